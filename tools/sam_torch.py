"""sam_torch.py -- PyTorch reference of SAM's prompt encoder + mask decoder and the
Stable-SAM DSP/DRP plugin (engine/PLUGIN.md), for golden references and plugin training.

Loads the same safetensors files as the C engine:
  * the model file (MobileSAM state-dict names; only prompt_encoder.* and mask_decoder.* are
    read -- the image embedding comes from the C engine or the ONNX encoder);
  * a plugin file (dsp.*, drp.*, exactly the tensors listed in engine/PLUGIN.md).

Conventions are the C engine's (engine/stablesam.h, engine/decoder.h):
  * prompt coordinates are original-image pixels, mapped to the 1024 frame as SAM's
    ResizeLongestSide.apply_coords (x * newW / W, y * newH / H), newW/newH = floor(side*1024/long+0.5);
  * clicks first (labels 1 / 0), then the box corners (labels 2, 3); with no box SAM's padding
    point (0, 0) label -1 is appended;
  * outputs: low-res logits (B, 4, 256, 256) of all 4 mask tokens and their IoU predictions (B, 4);
    Stable mode also returns alpha (B, 2, 2) and the block-1 trace.

Everything is differentiable in the plugin parameters; SAM's weights are frozen buffers.
Run with /usr/bin/python3 (Debian's python3-torch, numpy). No other packages.
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOOL_VERSION = "1"
IMG = 1024
GRID = 64
EMB = 256
LOWRES = 256

# --------------------------------------------------------------------------------------------
# safetensors (json header + raw little-endian data), numpy only

_ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
              "I32": np.int32, "U8": np.uint8, "I8": np.int8, "BF16": None, "BOOL": np.bool_}


class SafetensorsError(Exception):
    pass


def st_read_header(path):
    """(header dict without __metadata__, metadata dict, data offset)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise SafetensorsError(f"{path}: truncated (no header length)")
        (n,) = struct.unpack("<Q", raw)
        if n > 100 * 1024 * 1024:
            raise SafetensorsError(f"{path}: header length {n} is implausible")
        hdr = f.read(n)
        if len(hdr) != n:
            raise SafetensorsError(f"{path}: truncated header")
    try:
        h = json.loads(hdr.decode("utf-8"))
    except ValueError as e:
        raise SafetensorsError(f"{path}: bad JSON header: {e}")
    meta = h.pop("__metadata__", {}) or {}
    return h, meta, 8 + n


def st_load(path, prefixes=None):
    """Loads tensors (optionally only names starting with one of `prefixes`).
    Returns ({name: np.ndarray}, metadata)."""
    h, meta, base = st_read_header(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, e in h.items():
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        dt = _ST_DTYPES.get(e.get("dtype"))
        if dt is None:
            raise SafetensorsError(f"{path}: tensor {name}: unsupported dtype {e.get('dtype')}")
        a, b = e["data_offsets"]
        shape = tuple(e["shape"])
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
        if b - a != nbytes or base + b > mm.shape[0]:
            raise SafetensorsError(f"{path}: tensor {name}: bad data_offsets {a},{b}")
        out[name] = np.frombuffer(mm[base + a: base + b].tobytes(), dtype=dt).reshape(shape).copy()
    return out, meta


def st_save(path, tensors, metadata=None):
    """Writes {name: array} (kept in their dtype; float arrays as given) + string metadata."""
    names = sorted(tensors)
    rev = {np.dtype(v): k for k, v in _ST_DTYPES.items() if v is not None}
    hdr = {}
    off = 0
    blobs = []
    for n in names:
        a = np.ascontiguousarray(tensors[n])
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        b = a.tobytes()
        hdr[n] = {"dtype": rev[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    if metadata:
        hdr["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    js = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)  # align the data area to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


# --------------------------------------------------------------------------------------------
# prompt coordinates, as the C engine


def target_size(w, h):
    """(newW, newH) of the 1024 long-side resize: floor(side * 1024 / long + 0.5)."""
    s = IMG / max(w, h)
    return int(math.floor(w * s + 0.5)), int(math.floor(h * s + 0.5))


def prompt_arrays(w, h, points=(), box=None):
    """Original-pixel prompt -> (coords (N, 2) in the 1024 frame, labels (N,)) float32, in SAM's
    token order: clicks, then box corners (2, 3); padding point (0, 0) label -1 when no box.
    points: iterable of (x, y, label) with label 1 / 0. box: (x0, y0, x1, y1) or None."""
    nw, nh = target_size(w, h)
    sx, sy = nw / w, nh / h
    c, l = [], []
    for (x, y, lab) in points:
        c.append((x * sx, y * sy))
        l.append(float(lab))
    if box is not None:
        x0, y0, x1, y1 = box
        c.append((x0 * sx, y0 * sy)); l.append(2.0)
        c.append((x1 * sx, y1 * sy)); l.append(3.0)
    else:
        c.append((0.0, 0.0)); l.append(-1.0)
    return np.asarray(c, np.float32), np.asarray(l, np.float32)


# --------------------------------------------------------------------------------------------
# SAM prompt encoder + mask decoder (frozen)


def _gelu(x):
    """Exact GELU. The gradient is made contiguous first: Debian's torch 1.13 (python3-torch)
    computes GELU's backward wrongly (garbage, even 1e20) when the incoming gradient is not
    contiguous, e.g. the transposed gradient of the matmul in _convt2x2."""
    y = F.gelu(x)
    if y.requires_grad:
        y.register_hook(lambda g: g.contiguous())
    return y


def _convt2x2(x, w, b):
    """ConvTranspose2d(kernel 2, stride 2) as one matmul: x (B, C, H, W), w (C, O, 2, 2)."""
    B, C, H, W = x.shape
    O = w.shape[1]
    y = x.flatten(2).transpose(1, 2) @ w.reshape(C, O * 4)  # (B, HW, O*4)
    y = y.reshape(B, H, W, O, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(B, O, 2 * H, 2 * W)
    return y + b.reshape(1, O, 1, 1)


def _ln(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def _ln2d(x, w, b, eps=1e-6):
    """LayerNorm over channels of an NCHW map (SAM's LayerNorm2d)."""
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    x = (x - u) / torch.sqrt(s + eps)
    return w.reshape(1, -1, 1, 1) * x + b.reshape(1, -1, 1, 1)


class SamDecoder(nn.Module):
    """Prompt encoder + mask decoder of SAM with the weights of a safetensors model file."""

    def __init__(self, model_path):
        super().__init__()
        t, meta = st_load(model_path, prefixes=("prompt_encoder.", "mask_decoder."))
        if not t:
            raise SafetensorsError(f"{model_path}: no prompt_encoder.* / mask_decoder.* tensors")
        self.meta = meta
        self._names = []
        for n, a in t.items():
            key = n.replace(".", "__")
            self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(a, np.float32)))
            self._names.append(n)
        self.n_heads = 8
        self.register_buffer("dense_pe", self._dense_pe())

    def w(self, name):
        try:
            return getattr(self, name.replace(".", "__"))
        except AttributeError:
            raise SafetensorsError(f"model file: tensor {name}: missing")

    # -- prompt encoder
    def _pe(self, xy01):
        """Random-Fourier PE of coordinates normalised to [0, 1] -> (..., 256)."""
        g = self.w("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix")
        c = (2.0 * xy01 - 1.0) @ g
        c = 2.0 * math.pi * c
        return torch.cat([torch.sin(c), torch.cos(c)], dim=-1)

    def _dense_pe(self):
        ys = (torch.arange(GRID, dtype=torch.float32) + 0.5) / GRID
        xs = (torch.arange(GRID, dtype=torch.float32) + 0.5) / GRID
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        pe = self._pe(torch.stack([gx, gy], dim=-1))  # (64, 64, 256)
        return pe.reshape(GRID * GRID, EMB)           # position-major i = gy*64+gx

    def sparse_embed(self, coords, labels):
        """coords (B, N, 2) in the 1024 frame, labels (B, N) -> (B, N, 256)."""
        pe = self._pe((coords + 0.5) / IMG)
        lab = labels[..., None]
        pe = pe * (lab != -1).to(pe.dtype)
        pe = pe + self.w("prompt_encoder.not_a_point_embed.weight").reshape(EMB) * (lab == -1).to(pe.dtype)
        for i in range(4):
            pe = pe + (self.w(f"prompt_encoder.point_embeddings.{i}.weight").reshape(EMB)
                       * (lab == i).to(pe.dtype))
        return pe

    def dense_embed(self, mask_input, batch):
        """mask_input (B, 1, 256, 256) or None -> (B, 256, 64, 64)."""
        if mask_input is None:
            e = self.w("prompt_encoder.no_mask_embed.weight").reshape(EMB)
            return e[None, :, None, None].expand(batch, EMB, GRID, GRID)
        p = "prompt_encoder.mask_downscaling."
        x = F.conv2d(mask_input, self.w(p + "0.weight"), self.w(p + "0.bias"), stride=2)
        x = _gelu(_ln2d(x, self.w(p + "1.weight"), self.w(p + "1.bias")))
        x = F.conv2d(x, self.w(p + "3.weight"), self.w(p + "3.bias"), stride=2)
        x = _gelu(_ln2d(x, self.w(p + "4.weight"), self.w(p + "4.bias")))
        return F.conv2d(x, self.w(p + "6.weight"), self.w(p + "6.bias"))

    # -- transformer pieces
    def _lin(self, x, p):
        return F.linear(x, self.w(p + ".weight"), self.w(p + ".bias"))

    def _attn(self, p, q, k, v, want_weights=False):
        """SAM Attention: q (B, Nq, 256), k/v (B, Nk, 256). Returns (out, softmax (B, h, Nq, Nk)|None)."""
        q = self._lin(q, p + ".q_proj")
        k = self._lin(k, p + ".k_proj")
        v = self._lin(v, p + ".v_proj")
        B, Nq, C = q.shape
        Nk = k.shape[1]
        h = self.n_heads
        d = C // h
        q = q.reshape(B, Nq, h, d).transpose(1, 2)
        k = k.reshape(B, Nk, h, d).transpose(1, 2)
        v = v.reshape(B, Nk, h, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        o = (a @ v).transpose(1, 2).reshape(B, Nq, C)
        return self._lin(o, p + ".out_proj"), (a if want_weights else None)

    def _mlp(self, x, p, n):
        for i in range(n):
            x = self._lin(x, f"{p}.layers.{i}")
            if i < n - 1:
                x = F.relu(x)
        return x

    def forward(self, emb, coords, labels, mask_input=None, plugin=None, mode="sam",
                want_trace=False):
        """emb (1 or B, 256, 64, 64); coords (B, N, 2) 1024-frame; labels (B, N);
        mask_input (B, 1, 256, 256) or None; mode 'sam' | 'stable' (needs plugin).
        Returns dict: low_res (B, 4, 256, 256), iou (B, 4), alpha (B, 2, 2) and, if want_trace,
        trace_weight (B, 4096), trace_pos (B, 4096, 2)."""
        if mode not in ("sam", "stable"):
            raise ValueError(f"mode {mode!r}: expected 'sam' or 'stable'")
        if mode == "stable" and plugin is None:
            raise ValueError("stable mode needs a plugin")
        dt = self.dense_pe.dtype  # float32; float64 after .double() (gradient self-check)
        coords = torch.as_tensor(coords).to(dt)
        labels = torch.as_tensor(labels).to(dt)
        if coords.dim() == 2:
            coords, labels = coords[None], labels[None]
        B = coords.shape[0]
        emb = torch.as_tensor(emb).to(dt)
        if emb.dim() == 3:
            emb = emb[None]
        if emb.shape[0] == 1 and B > 1:
            emb = emb.expand(B, -1, -1, -1)
        if mask_input is not None:
            mask_input = torch.as_tensor(mask_input).to(dt)
            if mask_input.dim() == 2:
                mask_input = mask_input[None, None].expand(B, 1, LOWRES, LOWRES)

        sparse = self.sparse_embed(coords, labels)
        dense = self.dense_embed(mask_input, B)
        md = "mask_decoder."
        out_tok = torch.cat([self.w(md + "iou_token.weight").reshape(1, EMB),
                             self.w(md + "mask_tokens.weight").reshape(4, EMB)], 0)
        tokens = torch.cat([out_tok[None].expand(B, -1, -1), sparse], dim=1)  # (B, 5+N, 256)

        src = (emb + dense).flatten(2).transpose(1, 2)  # (B, 4096, 256)
        key_pe = self.dense_pe[None]
        qpe = tokens
        queries, keys = tokens, src
        alpha = torch.zeros(B, 2, 2, dtype=dt)
        alpha[:, :, 1] = 1.0
        alphas = []
        trace_w = trace_pos = None
        tp = md + "transformer."
        for b in range(2):
            p = f"{tp}layers.{b}."
            if b == 0:  # skip_first_layer_pe: no PE, no residual
                queries, _ = self._attn(p + "self_attn", queries, queries, queries)
            else:
                q = queries + qpe
                o, _ = self._attn(p + "self_attn", q, q, queries)
                queries = queries + o
            queries = _ln(queries, self.w(p + "norm1.weight"), self.w(p + "norm1.bias"), 1e-5)

            pos = None
            if mode == "stable":
                kv, al, pos = plugin.block(b, keys, queries[:, 1])
                alphas.append(al)
            else:
                kv = keys
            tr = want_trace and b == 1
            o, a = self._attn(p + "cross_attn_token_to_image", queries + qpe, kv + key_pe, kv,
                              want_weights=tr)
            if tr:
                trace_w = a[:, :, 1, :].mean(1)
                if pos is None:
                    g = torch.arange(GRID, dtype=dt)
                    gy, gx = torch.meshgrid(g, g, indexing="ij")
                    pos = torch.stack([gx, gy], -1).reshape(1, GRID * GRID, 2).expand(B, -1, -1)
                trace_pos = pos
            queries = queries + o
            queries = _ln(queries, self.w(p + "norm2.weight"), self.w(p + "norm2.bias"), 1e-5)
            m = self._lin(F.relu(self._lin(queries, p + "mlp.lin1")), p + "mlp.lin2")
            queries = _ln(queries + m, self.w(p + "norm3.weight"), self.w(p + "norm3.bias"), 1e-5)
            q = queries + qpe
            k = keys + key_pe
            o, _ = self._attn(p + "cross_attn_image_to_token", k, q, queries)
            keys = _ln(keys + o, self.w(p + "norm4.weight"), self.w(p + "norm4.bias"), 1e-5)
        o, _ = self._attn(tp + "final_attn_token_to_image", queries + qpe, keys + key_pe, keys)
        queries = queries + o
        queries = _ln(queries, self.w(tp + "norm_final_attn.weight"),
                      self.w(tp + "norm_final_attn.bias"), 1e-5)

        iou_tok = queries[:, 0]
        mask_tok = queries[:, 1:5]
        x = keys.transpose(1, 2).reshape(B, EMB, GRID, GRID)
        u = md + "output_upscaling."
        x = _convt2x2(x, self.w(u + "0.weight"), self.w(u + "0.bias"))
        x = _gelu(_ln2d(x, self.w(u + "1.weight"), self.w(u + "1.bias")))
        x = _convt2x2(x, self.w(u + "3.weight"), self.w(u + "3.bias"))
        x = _gelu(x)  # (B, 32, 256, 256)
        hyper = torch.stack([self._mlp(mask_tok[:, i], f"{md}output_hypernetworks_mlps.{i}", 3)
                             for i in range(4)], dim=1)  # (B, 4, 32)
        low = (hyper @ x.flatten(2)).reshape(B, 4, LOWRES, LOWRES)
        iou = self._mlp(iou_tok, md + "iou_prediction_head", 3)
        if alphas:
            alpha = torch.stack(alphas, dim=1)
        out = {"low_res": low, "iou": iou, "alpha": alpha}
        if want_trace:
            out["trace_weight"] = trace_w
            out["trace_pos"] = trace_pos
        return out


# --------------------------------------------------------------------------------------------
# Stable-SAM plugin (engine/PLUGIN.md)

C_OFF = 128


def plugin_shapes():
    """{name: shape} of every tensor of a plugin file, per engine/PLUGIN.md section 1."""
    s = {"dsp.scale": (1,)}
    for b in range(2):
        s.update({
            f"dsp.{b}.offset.0.weight": (C_OFF + 1, EMB, 1, 1), f"dsp.{b}.offset.0.bias": (C_OFF + 1,),
            f"dsp.{b}.offset.1.weight": (C_OFF, 1, 5, 5), f"dsp.{b}.offset.1.bias": (C_OFF,),
            f"dsp.{b}.offset.2.weight": (C_OFF,), f"dsp.{b}.offset.2.bias": (C_OFF,),
            f"dsp.{b}.offset.3.weight": (2, C_OFF, 1, 1), f"dsp.{b}.offset.3.bias": (2,),
            f"drp.{b}.mlp.0.weight": (16, EMB), f"drp.{b}.mlp.0.bias": (16,),
            f"drp.{b}.mlp.1.weight": (16,), f"drp.{b}.mlp.1.bias": (16,),
            f"drp.{b}.mlp.2.weight": (2, 16), f"drp.{b}.mlp.2.bias": (2,),
            f"drp.{b}.scale": (1,),
        })
    return s


def bilinear_sample(x, q):
    """x (B, C, 64, 64), q (B, 4096, 2) clamped (x, y) positions in pixel-index coordinates
    (align_corners=True) -> (B, 4096, C). Explicit 4-corner form, the same arithmetic as the C
    engine; differentiable in x and q."""
    B, C, H, W = x.shape
    qx, qy = q[..., 0], q[..., 1]
    x0 = torch.floor(qx).detach()
    y0 = torch.floor(qy).detach()
    wx = qx - x0
    wy = qy - y0
    x0 = x0.long().clamp(0, W - 1)
    y0 = y0.long().clamp(0, H - 1)
    x1 = (x0 + 1).clamp(max=W - 1)
    y1 = (y0 + 1).clamp(max=H - 1)
    flat = x.flatten(2).transpose(1, 2)  # (B, HW, C)

    def g(yy, xx):
        idx = (yy * W + xx)[..., None].expand(-1, -1, C)
        return torch.gather(flat, 1, idx)

    wx = wx[..., None]
    wy = wy[..., None]
    return ((1 - wy) * ((1 - wx) * g(y0, x0) + wx * g(y0, x1))
            + wy * ((1 - wx) * g(y1, x0) + wx * g(y1, x1)))


class StablePlugin(nn.Module):
    """DSP + DRP for the two token-to-image attentions. Parameter names = plugin file names.
    dsp.scale (s_p) is a buffer (fixed), everything else is trainable."""

    def __init__(self, tensors=None, fast_sampling=False):
        super().__init__()
        # fast_sampling: F.grid_sample (same bilinear rule, ~1e-6 rounding differences) instead
        # of the explicit 4-corner form; for training speed, never for golden references.
        self.fast_sampling = fast_sampling
        shapes = plugin_shapes()
        self._keys = {}
        for n, shp in shapes.items():
            key = n.replace(".", "__")
            self._keys[n] = key
            a = torch.zeros(shp, dtype=torch.float32)
            if n == "dsp.scale":
                self.register_buffer(key, a)
            else:
                setattr(self, key, nn.Parameter(a))
        if tensors is None:
            tensors = identity_plugin_tensors()
        self.load_tensors(tensors)

    def p(self, name):
        return getattr(self, self._keys[name])

    def load_tensors(self, tensors, src="plugin"):
        shapes = plugin_shapes()
        extra = sorted(set(tensors) - set(shapes))
        missing = sorted(set(shapes) - set(tensors))
        if extra:
            raise SafetensorsError(f"{src}: unknown tensor {extra[0]}")
        if missing:
            raise SafetensorsError(f"{src}: tensor {missing[0]}: missing")
        with torch.no_grad():
            for n, shp in shapes.items():
                a = np.asarray(tensors[n])
                if tuple(a.shape) != tuple(shp):
                    raise SafetensorsError(f"{src}: tensor {n}: shape {list(a.shape)} expected {list(shp)}")
                self.p(n).copy_(torch.from_numpy(np.ascontiguousarray(a, np.float32)))

    def tensors(self):
        """{name: float32 numpy array} for st_save."""
        return {n: self.p(n).detach().cpu().numpy().astype(np.float32) for n in plugin_shapes()}

    @classmethod
    def load(cls, path):
        t, meta = st_load(path)
        pl = cls(t)
        pl.meta = meta
        return pl

    def save(self, path, metadata=None):
        md = {"format": "stablesam-plugin", "version": "1"}
        md.update(metadata or {})
        st_save(path, self.tensors(), md)

    def offsets(self, b, X):
        """X (B, 256, 64, 64) -> (delta (B, 2, 64, 64) in grid cells, m (B, 1, 64, 64))."""
        P = f"dsp.{b}.offset."
        h = F.conv2d(X, self.p(P + "0.weight"), self.p(P + "0.bias"))
        m = 2.0 * torch.sigmoid(h[:, C_OFF:C_OFF + 1])
        u = F.conv2d(h[:, :C_OFF], self.p(P + "1.weight"), self.p(P + "1.bias"), padding=2, groups=C_OFF)
        u = _gelu(_ln2d(u, self.p(P + "2.weight"), self.p(P + "2.bias"), eps=1e-6))
        d = F.conv2d(u, self.p(P + "3.weight"), self.p(P + "3.bias"))
        return self.p("dsp.scale") * torch.tanh(d), m

    def route(self, b, t_o):
        """t_o (B, 256) -> alpha (B, 2) = softmax(MLP(t_o)) * s."""
        P = f"drp.{b}.mlp."
        r = F.linear(t_o, self.p(P + "0.weight"), self.p(P + "0.bias"))
        r = _gelu(F.layer_norm(r, (16,), self.p(P + "1.weight"), self.p(P + "1.bias"), 1e-5))
        r = F.linear(r, self.p(P + "2.weight"), self.p(P + "2.bias"))
        return torch.softmax(r, dim=-1) * self.p(f"drp.{b}.scale")

    def block(self, b, keys, t_o):
        """keys (B, 4096, 256) position-major, t_o (B, 256) ->
        (x~ (B, 4096, 256), alpha (B, 2), sample positions q (B, 4096, 2) as (x, y))."""
        B = keys.shape[0]
        X = keys.transpose(1, 2).reshape(B, EMB, GRID, GRID)
        delta, m = self.offsets(b, X)
        g = torch.arange(GRID, dtype=keys.dtype)
        gy, gx = torch.meshgrid(g, g, indexing="ij")
        p = torch.stack([gx, gy], 0)[None]  # (1, 2, 64, 64)
        q = (p + delta).clamp(0.0, GRID - 1.0)
        q = q.flatten(2).transpose(1, 2)  # (B, 4096, 2)
        if self.fast_sampling:
            grid = (q / (GRID - 1) * 2.0 - 1.0).reshape(B, GRID, GRID, 2)
            xs = F.grid_sample(m * X, grid, mode="bilinear", padding_mode="border",
                               align_corners=True).flatten(2).transpose(1, 2)
        else:
            xs = bilinear_sample(m * X, q)
        al = self.route(b, t_o)
        xt = al[:, 0, None, None] * xs + al[:, 1, None, None] * keys
        return xt, al, q


def identity_plugin_tensors(*, s_p=8.0, seed=0):
    """No-op plugin (PLUGIN.md section 3): the layers that do not have to be zero are given a
    small seeded random initialisation (so training can start from it); the zeroed ones make
    delta = 0, m = 1, alpha = (1/2, 1/2), s = 1, hence x~ = x exactly."""
    rng = np.random.default_rng(seed)
    t = {}
    for n, shp in plugin_shapes().items():
        t[n] = np.zeros(shp, np.float32)
    t["dsp.scale"][0] = s_p
    for b in range(2):
        fan = EMB
        w0 = rng.uniform(-1, 1, (C_OFF + 1, EMB, 1, 1)) / math.sqrt(fan)
        w0[C_OFF] = 0.0  # amplitude channel: weights and bias zero -> m = 1
        t[f"dsp.{b}.offset.0.weight"] = w0.astype(np.float32)
        t[f"dsp.{b}.offset.1.weight"] = (rng.uniform(-1, 1, (C_OFF, 1, 5, 5)) / 5.0).astype(np.float32)
        t[f"dsp.{b}.offset.2.weight"] = np.ones(C_OFF, np.float32)
        t[f"drp.{b}.mlp.0.weight"] = (rng.uniform(-1, 1, (16, EMB)) / math.sqrt(EMB)).astype(np.float32)
        t[f"drp.{b}.mlp.1.weight"] = np.ones(16, np.float32)
        t[f"drp.{b}.scale"][0] = 1.0
    return t


# --------------------------------------------------------------------------------------------
# small helpers for tools


def load_embedding_f32(path):
    """Raw (256, 64, 64) float32 file -> numpy array."""
    a = np.fromfile(path, dtype="<f4")
    if a.size != EMB * GRID * GRID:
        raise ValueError(f"{path}: {a.size} floats, expected {EMB * GRID * GRID}")
    return a.reshape(EMB, GRID, GRID)


# --------------------------------------------------------------------------------------------
# self-check against the ONNX reference (tools/golden developer output)


def check_golden(golden_dir, model_path, tol=1e-3):
    """SAM mode vs the ONNX decoder's pre-selection outputs (all 4 tokens) of every case of
    GOLDEN_DIR/golden.json (written by tools/golden/make_golden.py --dev-out). Returns 0 if every
    case is within tol (max |d logit|), else 1."""
    import os
    with open(os.path.join(golden_dir, "golden.json")) as f:
        d = json.load(f)
    m = SamDecoder(model_path)
    worst = 0.0
    for im in d["images"]:
        emb = load_embedding_f32(os.path.join(golden_dir, im["name"], "embedding.f32"))
        for c in im["cases"]:
            cd = os.path.join(golden_dir, im["name"], c["id"])
            coords, labels = prompt_arrays(im["width"], im["height"], [tuple(p) for p in c["points"]], c["box"])
            fc = np.fromfile(os.path.join(cd, "point_coords.f32"), "<f4").reshape(-1, 2)
            fl = np.fromfile(os.path.join(cd, "point_labels.f32"), "<f4")
            if fc.shape != coords.shape or not np.array_equal(fl, labels) or np.abs(fc - coords).max() > 1e-3:
                print(f"{im['name']}/{c['id']}: prompt feeds differ from the reference's")
                worst = float("inf")
                continue
            mi = None
            if c["feeds"]["has_mask_input"]:
                mi = torch.from_numpy(np.fromfile(os.path.join(cd, "mask_input.f32"), "<f4").reshape(1, 1, 256, 256))
            with torch.no_grad():
                o = m(emb, coords, labels, mi)
            ref = np.fromfile(os.path.join(cd, "low_res_all.f32"), "<f4").reshape(4, LOWRES, LOWRES)
            riou = np.fromfile(os.path.join(cd, "iou_all.f32"), "<f4")
            dl = np.abs(o["low_res"][0].numpy() - ref).max(axis=(1, 2))
            di = np.abs(o["iou"][0].numpy() - riou).max()
            worst = max(worst, float(dl.max()))
            print(f"{im['name']:10s} {c['id']:11s} max |d logit| per token "
                  + " ".join(f"{v:.2e}" for v in dl) + f"   |d iou| {di:.2e}")
    print(f"worst max |d logit| {worst:.3g} (tolerance {tol})")
    return 0 if worst < tol else 1


def check_grad(model_path, plugin_path, emb_path, w, h, tol=1e-3):
    """Gradients of a BCE + Dice-like loss w.r.t. every plugin parameter in float32 vs float64
    (same inputs), batch of 3 prompts. Guards against wrong float32 backward kernels (see
    _gelu). Returns 0 if every parameter's max |d grad| <= tol * its float64 max |grad|."""
    emb = load_embedding_f32(emb_path)
    prompts = [prompt_arrays(w, h, [(w * 0.5, h * 0.45, 1), (w * 0.3, h * 0.6, 1), (w * 0.8, h * 0.2, 0)], None),
               prompt_arrays(w, h, [(w * 0.55, h * 0.5, 1), (w * 0.35, h * 0.65, 1), (w * 0.7, h * 0.3, 0)], None),
               prompt_arrays(w, h, [(w * 0.45, h * 0.4, 1), (w * 0.25, h * 0.55, 1), (w * 0.9, h * 0.1, 0)], None)]
    coords = np.stack([p[0] for p in prompts])
    labels = np.stack([p[1] for p in prompts])
    tgt = torch.zeros(3, LOWRES, LOWRES)
    tgt[:, 60:160, 80:200] = 1.0
    grads = []
    for dt in (torch.float32, torch.float64):
        m = SamDecoder(model_path)
        pl = StablePlugin.load(plugin_path)
        if dt == torch.float64:
            m.double()
            pl.double()
        o = m(torch.from_numpy(emb).to(dt)[None], coords, labels, plugin=pl, mode="stable")
        lo = o["low_res"][:, 0]
        p = torch.sigmoid(lo)
        t = tgt.to(dt)
        loss = F.binary_cross_entropy_with_logits(lo, t) + 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
        loss.backward()
        grads.append({n: q.grad.detach().double() for n, q in pl.named_parameters()})
    worst = 0.0
    for n in grads[1]:
        ref = grads[1][n].abs().max().item()
        d = (grads[0][n] - grads[1][n]).abs().max().item()
        r = d / ref if ref > 0 else d
        worst = max(worst, r)
        print(f"{n.replace('__', '.'):26s} max |grad| {ref:.3e}  float32 vs float64 max |d| {d:.2e} ({r:.1e} relative)")
    print(f"worst relative difference {worst:.2e} (tolerance {tol})")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    import os
    import sys
    usage = ("usage: /usr/bin/python3 tools/sam_torch.py check-golden GOLDEN_DEV_DIR [MODEL]\n"
             "       /usr/bin/python3 tools/sam_torch.py check-grad PLUGIN EMBEDDING.f32 W H [MODEL]")
    if len(sys.argv) < 3 or sys.argv[1] not in ("check-golden", "check-grad"):
        print(usage, file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(1)
    nmodel = 3 if sys.argv[1] == "check-golden" else 6
    mp = sys.argv[nmodel] if len(sys.argv) > nmodel else (os.environ.get("STABLESAM_MODEL") or os.path.expanduser(
        "~/.cache/stablesam/mobilesam.safetensors"))
    try:
        if sys.argv[1] == "check-grad":
            if len(sys.argv) < 6:
                print(usage, file=sys.stderr)
                sys.exit(2)
            sys.exit(check_grad(mp, sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
        sys.exit(check_golden(sys.argv[2], mp))
    except (OSError, SafetensorsError, ValueError) as e:
        print(f"sam_torch.py: {e}", file=sys.stderr)
        sys.exit(1)
