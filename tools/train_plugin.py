#!/usr/bin/python3
"""train_plugin.py -- trains the Stable-SAM DSP/DRP plugin (DESIGN.md section 4 "Training").

SAM (MobileSAM's prompt encoder + mask decoder, tools/sam_torch.py) is frozen; only the plugin
(engine/PLUGIN.md, 82,349 floats) learns. Image embeddings are precomputed once with the C
engine (`stablesam embed DATASET_DIR --out DIR`, ss_embedding_save format) and read from disk.

Robust training strategy: every step draws ONE prompt type for its whole batch -- GT box, noisy
box (noise 0.4, DESIGN section 5), 1, 3 or 10 positive points uniform in the GT mask -- and a
fraction of the samples (--occ-frac) come from an occlusion set made by `make-occluded` (another
object's pixels pasted over the target, removed from its mask; embed it with `stablesam embed`
like the other sets). Loss: BCE + Dice on mask token 0's 256x256 logits against the GT mask
resampled as SAM resamples the image (long side to 1024, pad bottom/right, then 4x4 average
pool = the 256x256 grid), counting only the unpadded part (and not ignored pixels). AdamW,
linear warm-up + cosine decay, gradient clipping, seeded, resumable.

Commands (run with /usr/bin/python3; CPU; --threads 1 by default):

  train_plugin.py train --data ../shared/data --emb EMB_DIR --out RUN_DIR [--steps 2000]
        [--batch 8] [--lr 1e-3] [--seed 0] [--occluded OCC_DIR --occ-emb OCC_EMB_DIR]
        [--val-every 200] [--val-limit 40] [--resume]
      RUN_DIR/ckpt.pt (latest, resumable), plugin-last.safetensors, plugin-best.safetensors
      (best by validation), log.jsonl, val.jsonl, loss.png.
  train_plugin.py make-occluded --data ../shared/data --out OCC_DIR [--n 400] [--seed 0]
      writes a dataset (images/, masks/, train.txt) in the shared layout.
  train_plugin.py validate --data ../shared/data --emb EMB_DIR --plugin FILE [--val-limit N]

Embedding files: EMB_DIR/index.json of `stablesam embed` (set, id -> file) when present, else
by image id under EMB_DIR (recursively, any extension; EMB_DIR/SET/ID.* preferred over
EMB_DIR/ID.*). Every file's header is checked.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time


def _openblas_coretype():
    """Debian 12's OpenBLAS (numpy's and torch's BLAS) falls back to SSE3 kernels on CPUs newer
    than it knows; choose as engine/blas.c does, before numpy / torch load it."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError:
        return
    if all(x in flags for x in ("avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl")):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif "avx2" in flags and "fma" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


_openblas_coretype()

import numpy as np  # noqa: E402
import scipy.ndimage as ndi  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_torch as st  # noqa: E402

EMB_MAGIC = b"SSEMB\x00\x00\x01"
EMB_HDR = 40  # magic 8, model hash 16, int32 width, height, dim, side
# "refine": 1-3 rounds of the click loop run without gradient (clicks as the NoC simulator
# places them, the previous round's logits fed back as mask input), then a trained round.
PROMPT_TYPES = ("gt_box", "noisy_box", "point1", "point3", "point10", "refine")
DEFAULT_PROMPT_WEIGHTS = "gt_box=1,noisy_box=1,point1=1,point3=1,point10=1,refine=0"
# "click2": the NoC loop's second round (first click at the GT cell farthest from the
# boundary, second in the larger error region, first round's logits fed back).
VAL_TYPES = ("gt_box", "noisy_box", "point1", "point3", "click2")


def die(msg):
    print(f"train_plugin.py: {msg}", file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------------------------------
# data


def read_ids(path):
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def find_image(set_dir, i):
    for ext in (".jpg", ".png", ".jpeg", ".JPG", ".PNG"):
        p = os.path.join(set_dir, "images", i + ext)
        if os.path.exists(p):
            return p
    return None


def list_objects(set_dir, ids):
    """[(id, k, mask_path, ignore_path|None, image_path)] for the ids of one set."""
    masks = sorted(os.listdir(os.path.join(set_dir, "masks")))
    by_id = {}
    for m in masks:
        if not m.endswith(".png") or m.endswith(".ignore.png"):
            continue
        stem = m[:-4]
        i, _, k = stem.rpartition("_")
        if not i or not k.isdigit():
            continue
        by_id.setdefault(i, []).append(int(k))
    out = []
    for i in ids:
        img = find_image(set_dir, i)
        if img is None:
            continue
        for k in sorted(by_id.get(i, [])):
            mp = os.path.join(set_dir, "masks", f"{i}_{k}.png")
            ig = os.path.join(set_dir, "masks", f"{i}_{k}.ignore.png")
            out.append((i, k, mp, ig if os.path.exists(ig) else None, img))
    return out


def read_emb_header(path):
    with open(path, "rb") as f:
        h = f.read(EMB_HDR)
    if len(h) != EMB_HDR or h[:8] != EMB_MAGIC:
        return None
    w, hh, dim, side = struct.unpack("<4i", h[24:40])
    if dim != st.EMB or side != st.GRID or os.path.getsize(path) != EMB_HDR + 4 * dim * side * side:
        return None
    return {"hash": h[8:24].decode("ascii", "replace"), "width": w, "height": hh}


class EmbeddingIndex:
    """Embedding files under a directory, by (set, id). Uses ROOT/index.json when present (as
    written by `stablesam embed`: images[] with set, id, embedding = path relative to ROOT),
    else file names: ROOT/SET/ID.* preferred over ID.* anywhere under ROOT."""

    def __init__(self, root):
        if not os.path.isdir(root):
            die(f"{root}: no such embedding directory")
        self.root = root
        self.indexed = {}  # (set, id) -> path
        ip = os.path.join(root, "index.json")
        if os.path.exists(ip):
            try:
                with open(ip) as f:
                    idx = json.load(f)
                for e in idx.get("images", []):
                    self.indexed[(e["set"], e["id"])] = os.path.join(root, e["embedding"])
            except (ValueError, KeyError, TypeError) as e:
                die(f"{ip}: bad embedding index: {e}")
        self.files = {}  # stem -> [relpath]
        if not self.indexed:
            for dp, _, fs in os.walk(root):
                for f in fs:
                    stem = f.split(".")[0]
                    self.files.setdefault(stem, []).append(os.path.relpath(os.path.join(dp, f), root))
        self.cache = {}
        self.cache_order = []
        self.cache_max = 256
        self.hashes = set()

    def find(self, set_name, i):
        if self.indexed:
            cand = [self.indexed[(set_name, i)]] if (set_name, i) in self.indexed else []
        else:
            c = self.files.get(i, [])
            pref = [p for p in c if p.split(os.sep)[0] == set_name]
            cand = [os.path.join(self.root, p) for p in pref + [p for p in c if p not in pref]]
        for full in cand:
            h = read_emb_header(full) if os.path.exists(full) else None
            if h is not None:
                self.hashes.add(h["hash"])
                return full, h
        return None, None

    def load(self, path):
        e = self.cache.get(path)
        if e is None:
            e = np.fromfile(path, dtype="<f4", offset=EMB_HDR).reshape(st.EMB, st.GRID, st.GRID)
            if not np.isfinite(e).all():
                die(f"{path}: embedding holds non-finite values")
            self.cache[path] = e
            self.cache_order.append(path)
            if len(self.cache_order) > self.cache_max:
                self.cache.pop(self.cache_order.pop(0), None)
        return e


def load_mask(path):
    try:
        return np.asarray(Image.open(path).convert("L")) > 127
    except OSError as e:
        die(f"{path}: cannot read mask: {e}")


def target_256(mask, ignore=None):
    """GT mask (H, W) bool -> (target (256, 256) in [0, 1], weight (256, 256)) resampled as SAM
    resamples the image: bilinear to (newH, newW), pad to 1024^2, 4x4 average pool. weight = the
    unpadded, not-ignored fraction of each cell."""
    h, w = mask.shape
    nw, nh = st.target_size(w, h)

    def rs(a):
        im = Image.fromarray(a.astype(np.float32), mode="F").resize((nw, nh), Image.BILINEAR)
        big = np.zeros((st.IMG, st.IMG), np.float32)
        big[:nh, :nw] = np.asarray(im)
        return big.reshape(256, 4, 256, 4).mean(axis=(1, 3))

    valid = np.zeros((st.IMG, st.IMG), np.float32)
    valid[:nh, :nw] = 1.0
    vfrac = valid.reshape(256, 4, 256, 4).mean(axis=(1, 3))
    tgt = np.where(vfrac > 0, rs(mask) / np.maximum(vfrac, 1e-6), 0.0).clip(0, 1)
    wgt = vfrac
    if ignore is not None:
        ifrac = np.where(vfrac > 0, rs(ignore) / np.maximum(vfrac, 1e-6), 0.0).clip(0, 1)
        wgt = vfrac * (1.0 - ifrac)
    return tgt.astype(np.float32), wgt.astype(np.float32)


class Sample:
    __slots__ = ("set", "id", "k", "mask_path", "ignore_path", "image", "emb_path", "w", "h", "bbox", "area")


def build_samples(sets, emb_index, role):
    """sets: [(set_name, set_dir, ids)] -> {set_name: [Sample]} for objects with an embedding."""
    out, missing = {}, 0
    for name, d, ids in sets:
        lst = []
        for (i, k, mp, ig, img) in list_objects(d, ids):
            ep, h = emb_index.find(name, i)
            if ep is None:
                missing += 1
                continue
            s = Sample()
            s.set, s.id, s.k, s.mask_path, s.ignore_path, s.image, s.emb_path = name, i, k, mp, ig, img, ep
            s.w, s.h = h["width"], h["height"]
            s.bbox = None
            s.area = None
            lst.append(s)
        if lst:
            out[name] = lst
    n = sum(len(v) for v in out.values())
    print(f"{role}: {n} objects with embeddings " + ", ".join(f"{k} {len(v)}" for k, v in out.items())
          + (f"; {missing} objects skipped (no embedding file)" if missing else ""))
    return out


class ObjectData:
    """Per-object GT mask (original size), 256^2 target and bbox, cached."""

    def __init__(self, max_items=3000):
        self.cache = {}
        self.max_items = max_items

    def get(self, s):
        key = (s.set, s.id, s.k)
        v = self.cache.get(key)
        if v is None:
            m = load_mask(s.mask_path)
            if m.shape != (s.h, s.w):
                die(f"{s.mask_path}: mask is {m.shape[1]}x{m.shape[0]}, embedding says {s.w}x{s.h}")
            ig = load_mask(s.ignore_path) if s.ignore_path else None
            ys, xs = np.nonzero(m)
            if len(xs) == 0:
                v = None
            else:
                tgt, wgt = target_256(m, ig)
                v = {"ys": ys.astype(np.int32), "xs": xs.astype(np.int32),
                     "bbox": (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())),
                     "tgt": tgt, "wgt": wgt}
            if len(self.cache) < self.max_items:
                self.cache[key] = v
        return v


# --------------------------------------------------------------------------------------------
# prompts (original pixels), as DESIGN section 5


def noisy_box(rng, bbox, w, h, noise=0.4):
    x0, y0, x1, y1 = bbox
    bw, bh = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cx += rng.uniform(-1, 1) * bw / 2 * noise
    cy += rng.uniform(-1, 1) * bh / 2 * noise
    bw += rng.uniform(-1, 1) * bw * noise
    bh += rng.uniform(-1, 1) * bh * noise
    nx0, ny0 = max(0.0, cx - bw / 2), max(0.0, cy - bh / 2)
    nx1, ny1 = min(w - 1.0, cx + bw / 2), min(h - 1.0, cy + bh / 2)
    if nx1 - nx0 < 1:
        nx0, nx1 = max(0.0, nx0 - 1), min(w - 1.0, nx0 + 1)
    if ny1 - ny0 < 1:
        ny0, ny1 = max(0.0, ny0 - 1), min(h - 1.0, ny0 + 1)
    return (nx0, ny0, nx1, ny1)


def make_prompt(rng, ptype, od, w, h):
    """-> (points [(x, y, label)], box|None)."""
    if ptype == "gt_box":
        return [], tuple(float(v) for v in od["bbox"])
    if ptype == "noisy_box":
        return [], noisy_box(rng, od["bbox"], w, h)
    k = {"point1": 1, "point3": 3, "point5": 5, "point10": 10}[ptype]
    idx = rng.integers(0, len(od["xs"]), size=k)
    return [(float(od["xs"][i]), float(od["ys"][i]), 1) for i in idx], None


def cell_to_pixel(gx, gy, w, h):
    """Centre of 256^2 grid cell (gx, gy) in original pixels."""
    nw, nh = st.target_size(w, h)
    return min(w - 1.0, (gx * 4 + 2) * w / nw), min(h - 1.0, (gy * 4 + 2) * h / nh)


def farthest_cell(region):
    """(gx, gy) of the cell of a boolean 256^2 region farthest from its boundary (the grid's
    border counts as boundary), as the RITM click simulator picks pixels."""
    d = ndi.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    gy, gx = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(gx), int(gy)


def next_click(logits, tgt, wgt, w, h):
    """Simulator's next click on the 256^2 grid: in the larger of the missed / false-positive
    regions, at its cell farthest from the boundary -> (x, y, label) in original pixels."""
    valid = wgt > 0.5
    t = (tgt > 0.5) & valid
    p = (logits > 0) & valid
    fn, fp = t & ~p, p & ~t
    if fn.sum() == 0 and fp.sum() == 0:
        region, lab = t, 1
    elif fn.sum() >= fp.sum():
        region, lab = fn, 1
    else:
        region, lab = fp, 0
    gx, gy = farthest_cell(region)
    x, y = cell_to_pixel(gx, gy, w, h)
    return (x, y, lab)


def click_loop(model, plugin, mode, emb, items, tgt, wgt, rounds, first=None):
    """Runs `rounds` rounds of the click loop without gradient for a batch -> (coords, labels,
    mask_input) of the next round (its click already added). first: [(x, y, 1)] per item, else
    the GT cell farthest from the boundary."""
    pts = []
    for i, s in enumerate(items):
        if first is not None:
            pts.append([first[i]])
        else:
            gx, gy = farthest_cell(tgt[i].numpy() > 0.5)
            pts.append([cell_to_pixel(gx, gy, s.w, s.h) + (1,)])
    mask_in = None
    with torch.no_grad():
        for r in range(rounds):
            cs, ls = zip(*(st.prompt_arrays(s.w, s.h, pts[i], None) for i, s in enumerate(items)))
            o = model(emb, torch.from_numpy(np.stack(cs)), torch.from_numpy(np.stack(ls)), mask_input=mask_in,
                      plugin=plugin if mode == "stable" else None, mode=mode)
            mask_in = o["low_res"][:, :1].detach()
            for i, s in enumerate(items):
                pts[i].append(next_click(mask_in[i, 0].numpy(), tgt[i].numpy(), wgt[i].numpy(), s.w, s.h))
    cs, ls = zip(*(st.prompt_arrays(s.w, s.h, pts[i], None) for i, s in enumerate(items)))
    return torch.from_numpy(np.stack(cs)), torch.from_numpy(np.stack(ls)), mask_in


def batch_tensors(items, ptype, rng, emb_index, objdata):
    """items: [Sample] -> (emb (B,256,64,64), coords (B,N,2), labels (B,N), tgt, wgt) tensors."""
    embs, cs, ls, ts, ws = [], [], [], [], []
    for s in items:
        od = objdata.get(s)
        pts, box = make_prompt(rng, ptype, od, s.w, s.h)
        c, l = st.prompt_arrays(s.w, s.h, pts, box)
        embs.append(emb_index.load(s.emb_path))
        cs.append(c)
        ls.append(l)
        ts.append(od["tgt"])
        ws.append(od["wgt"])
    return (torch.from_numpy(np.stack(embs)), torch.from_numpy(np.stack(cs)), torch.from_numpy(np.stack(ls)),
            torch.from_numpy(np.stack(ts)), torch.from_numpy(np.stack(ws)))


# --------------------------------------------------------------------------------------------
# loss and metrics


def loss_fn(logits, tgt, wgt):
    """BCE + Dice per sample on the valid cells; returns (total, bce, dice) means over the batch."""
    wsum = wgt.flatten(1).sum(1).clamp(min=1.0)
    bce = (F.binary_cross_entropy_with_logits(logits, tgt, reduction="none") * wgt).flatten(1).sum(1) / wsum
    p = torch.sigmoid(logits) * wgt
    t = tgt * wgt
    inter = (p * t).flatten(1).sum(1)
    dice = 1.0 - (2.0 * inter + 1.0) / (p.flatten(1).sum(1) + t.flatten(1).sum(1) + 1.0)
    return (bce + dice).mean(), bce.mean(), dice.mean()


def iou_256(logits, tgt, wgt):
    """IoU (percent) of logits > 0 vs target > 0.5 on the valid cells of the 256^2 grid."""
    valid = wgt > 0.5
    p = (logits > 0) & valid
    t = (tgt > 0.5) & valid
    inter = (p & t).flatten(1).sum(1).float()
    union = (p | t).flatten(1).sum(1).float()
    return torch.where(union > 0, 100.0 * inter / union.clamp(min=1), torch.full_like(union, 100.0))


# --------------------------------------------------------------------------------------------
# validation


def make_val_prompts(val, objdata, seed):
    """Fixed, seeded prompts per (set, object, type); click2 is made at validation time."""
    rng = np.random.default_rng(seed + 1000003)
    out = []
    for name in sorted(val):
        for s in val[name]:
            od = objdata.get(s)
            if od is None:
                continue
            for t in VAL_TYPES:
                if t == "click2":
                    out.append((name, s, t, None, None))
                    continue
                pts, box = make_prompt(rng, t, od, s.w, s.h)
                out.append((name, s, t, pts, box))
    return out


def run_validation(model, plugin, vprompts, emb_index, objdata, modes=("stable",), batch=16):
    """-> {mode: {set: {type: mIoU}}}; prompts of one type are decoded in batches."""
    res = {m: {} for m in modes}
    groups = {}
    for v in vprompts:
        groups.setdefault(v[2], []).append(v)
    with torch.no_grad():
        for t, lst in groups.items():
            for b0 in range(0, len(lst), batch):
                chunk = lst[b0:b0 + batch]
                items = [v[1] for v in chunk]
                emb = torch.from_numpy(np.stack([emb_index.load(s.emb_path) for s in items]))
                tgt = torch.from_numpy(np.stack([objdata.get(s)["tgt"] for s in items]))
                wgt = torch.from_numpy(np.stack([objdata.get(s)["wgt"] for s in items]))
                for m in modes:
                    mask_in = None
                    if t == "click2":
                        c, l, mask_in = click_loop(model, plugin, m, emb, items, tgt, wgt, 1)
                    else:
                        cs, ls = zip(*(st.prompt_arrays(s.w, s.h, v[3], v[4]) for v, s in zip(chunk, items)))
                        c, l = torch.from_numpy(np.stack(cs)), torch.from_numpy(np.stack(ls))
                    o = model(emb, c, l, mask_input=mask_in, plugin=plugin if m == "stable" else None, mode=m)
                    ious = iou_256(o["low_res"][:, 0], tgt, wgt)
                    for v, x in zip(chunk, ious):
                        res[m].setdefault(v[0], {}).setdefault(t, []).append(float(x))
    for m in res:
        for name in res[m]:
            for t in res[m][name]:
                res[m][name][t] = float(np.mean(res[m][name][t]))
    return res


def val_score(r, sam=None):
    """Selection score: mean over sets of the stable mIoU on noisy box, 1 and 3 points and the
    click loop's second round; minus a
    penalty when the GT-box mIoU falls more than 1 point below SAM's (DESIGN section 7)."""
    sc = []
    for name, d in r.items():
        s = np.mean([d[t] for t in ("noisy_box", "point1", "point3", "click2") if t in d])
        if sam is not None and name in sam:
            drop = sam[name]["gt_box"] - d["gt_box"]
            if drop > 1.0:
                s -= 10.0 * (drop - 1.0)
        sc.append(s)
    return float(np.mean(sc))


# --------------------------------------------------------------------------------------------
# plotting


def plot(out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [json.loads(ln) for ln in open(os.path.join(out_dir, "log.jsonl"))]
    vrows = []
    vp = os.path.join(out_dir, "val.jsonl")
    if os.path.exists(vp):
        vrows = [json.loads(ln) for ln in open(vp)]
    if not rows:
        return
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    s = np.array([r["step"] for r in rows])
    loss = np.array([r["loss"] for r in rows])
    k = max(1, min(50, len(loss) // 10))
    sm = np.convolve(loss, np.ones(k) / k, mode="valid")
    ax[0].plot(s, loss, alpha=0.25, label="loss (BCE+Dice)")
    ax[0].plot(s[k - 1:], sm, label=f"mean of {k}")
    ax[0].set_xlabel("step")
    ax[0].set_title("training loss")
    ax[0].legend()
    if vrows:
        vs = [r["step"] for r in vrows]
        ci = 0
        for name in sorted(vrows[0]["stable"]):
            for t in VAL_TYPES:
                col = f"C{ci % 10}"
                ci += 1
                ax[1].plot(vs, [r["stable"][name][t] for r in vrows], color=col, marker=".", label=f"{name} {t}")
                sam = vrows[-1].get("sam") or {}
                if name in sam:
                    ax[1].axhline(sam[name][t], color=col, linestyle="--", linewidth=0.8)
        ax[1].set_xlabel("step")
        ax[1].set_title("val mIoU (256^2 grid): Stable-SAM (solid), SAM (dashed)")
        ax[1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "loss.png"), dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# train


def git_hash():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=os.path.dirname(os.path.abspath(__file__)),
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def split_sets(data, role):
    sets = []
    for name in sorted(os.listdir(data)):
        d = os.path.join(data, name)
        f = os.path.join(d, f"{role}.txt")
        if os.path.isdir(os.path.join(d, "images")) and os.path.exists(f):
            sets.append((name, d, read_ids(f)))
    return sets


def parse_weights(s):
    w = {}
    for part in (s or "").split(","):
        if part:
            k, _, v = part.partition("=")
            w[k] = float(v)
    return w


def save_atomic_torch(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cmd_train(a):
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    model = st.SamDecoder(a.model)
    for p in model.parameters():
        p.requires_grad_(False)
    emb_index = EmbeddingIndex(a.emb)
    train_sets = split_sets(a.data, "train")
    val_sets = split_sets(a.data, "val")
    if not train_sets:
        die(f"{a.data}: no set with images/ and train.txt")
    train = build_samples(train_sets, emb_index, "train")
    if a.occluded:
        occ_index = EmbeddingIndex(a.occ_emb or a.emb)
        occ_name = os.path.basename(os.path.normpath(a.occluded))
        occ = build_samples([(occ_name, a.occluded, read_ids(os.path.join(a.occluded, "train.txt")))],
                            occ_index, "occluded")
        if not occ:
            die(f"{a.occ_emb or a.emb}: no embedding for the occlusion set {a.occluded}")
    else:
        occ, occ_index, occ_name = {}, None, None
    val = build_samples(val_sets, emb_index, "val")
    if not train:
        die(f"{a.emb}: no embedding file matches a train image of {a.data}")
    if occ_index is not None:
        emb_index.hashes |= occ_index.hashes
    if len(emb_index.hashes) > 1:
        die(f"{a.emb}: embeddings from different models ({', '.join(sorted(emb_index.hashes))})")
    weights = parse_weights(a.set_weights)
    pwt = parse_weights(DEFAULT_PROMPT_WEIGHTS)
    for k, v in parse_weights(a.prompt_weights).items():
        if k not in pwt:
            die(f"--prompt-weights: unknown prompt type {k!r} (known: {', '.join(PROMPT_TYPES)})")
        pwt[k] = v
    tw = np.array([pwt[t] for t in PROMPT_TYPES], np.float64)
    if tw.sum() <= 0:
        die("--prompt-weights: all weights are zero")
    tw /= tw.sum()
    names = sorted(train)
    pw = np.array([weights.get(n, 1.0) for n in names], np.float64)
    pw /= pw.sum()
    objdata = ObjectData()

    # validation subset (seeded) and SAM baseline
    vrng = np.random.default_rng(a.seed + 17)
    val_sub = {}
    for n, lst in val.items():
        idx = vrng.permutation(len(lst))[: a.val_limit]
        val_sub[n] = [lst[i] for i in sorted(idx)]
    vprompts = make_val_prompts(val_sub, objdata, a.seed) if val_sub else []

    plugin = st.StablePlugin(st.identity_plugin_tensors(seed=a.seed)) if not a.init else st.StablePlugin.load(a.init)
    plugin.fast_sampling = True  # grid_sample: same bilinear rule, faster backward
    params = [p for p in plugin.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    rng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)
    step = 0
    best = {"score": -1e9, "step": -1}
    sam_val = None
    ck = os.path.join(a.out, "ckpt.pt")
    if a.resume and os.path.exists(ck):
        c = torch.load(ck)
        plugin.load_state_dict(c["plugin"])
        opt.load_state_dict(c["opt"])
        rng.bit_generator.state = c["rng"]
        torch.set_rng_state(c["torch_rng"])
        step, best, sam_val = c["step"], c["best"], c.get("sam_val")
        print(f"resumed from {ck} at step {step}")
    elif a.resume:
        print(f"{ck}: no checkpoint, starting at step 0")
    if vprompts and sam_val is None:
        t0 = time.time()
        sam_val = run_validation(model, None, vprompts, emb_index, objdata, modes=("sam",))["sam"]
        print(f"SAM baseline on {len(vprompts)} val prompts ({time.time() - t0:.0f} s): {json.dumps(sam_val)}")
        with open(os.path.join(a.out, "val_sam.json"), "w") as f:
            json.dump(sam_val, f, indent=1)

    meta = {"base_model": os.path.basename(a.model), "training_data": ",".join(
        f"{n}:train({len(train[n])} objects)" for n in names) + (f",{occ_name}:occluded({len(occ[occ_name])})" if occ else ""),
            "git": git_hash(), "seed": str(a.seed), "tool": f"tools/train_plugin.py {st.TOOL_VERSION}",
            "embeddings_model_hash": ",".join(sorted(emb_index.hashes))}
    logf = open(os.path.join(a.out, "log.jsonl"), "a")
    valf = open(os.path.join(a.out, "val.jsonl"), "a")
    t_start = time.time()
    stop_at = min(a.steps, step + a.stop_after) if a.stop_after > 0 else a.steps
    while step < stop_at:
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        ptype = PROMPT_TYPES[rng.choice(len(PROMPT_TYPES), p=tw)]
        items = []
        while len(items) < a.batch:
            if occ and rng.random() < a.occ_frac:
                s = occ[occ_name][rng.integers(len(occ[occ_name]))]
            else:
                n = names[rng.choice(len(names), p=pw)]
                s = train[n][rng.integers(len(train[n]))]
            if objdata.get(s) is not None:
                items.append(s)
        embs, cs, ls, tg, wg = [], [], [], [], []
        t0 = time.time()
        for s in items:
            idx = occ_index if (occ and s.set == occ_name) else emb_index
            e, c, l, t, w = batch_tensors([s], "point1" if ptype == "refine" else ptype, rng, idx, objdata)
            embs.append(e); cs.append(c); ls.append(l); tg.append(t); wg.append(w)
        emb, coords, labels, tgt, wgt = (torch.cat(x) for x in (embs, cs, ls, tg, wg))
        mask_in = None
        if ptype == "refine":
            # first click: the random positive point drawn above, or the simulator's centre click
            first = ([(float(c[0, 0, 0]) * s.w / st.target_size(s.w, s.h)[0],
                       float(c[0, 0, 1]) * s.h / st.target_size(s.w, s.h)[1], 1) for c, s in zip(cs, items)]
                     if rng.random() < 0.5 else None)
            coords, labels, mask_in = click_loop(model, plugin, "stable", emb, items, tgt, wgt,
                                                 int(rng.integers(1, 4)), first)
        o = model(emb, coords, labels, mask_input=mask_in, plugin=plugin, mode="stable")
        loss, bce, dice = loss_fn(o["low_res"][:, 0], tgt, wgt)
        opt.zero_grad()
        loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(params, a.clip))
        opt.step()
        step += 1
        al = o["alpha"].detach().mean(0).numpy()
        row = {"step": step, "loss": float(loss), "bce": float(bce), "dice": float(dice), "lr": lr_at(step - 1),
               "prompt": ptype, "grad_norm": gn, "alpha": al.round(4).tolist(), "sec": round(time.time() - t0, 3)}
        logf.write(json.dumps(row) + "\n")
        logf.flush()
        if step % a.print_every == 0 or step == 1:
            print(f"step {step}/{a.steps} {ptype:9s} loss {float(loss):.4f} (bce {float(bce):.4f} dice {float(dice):.4f}) "
                  f"lr {row['lr']:.2e} |g| {gn:.3f} alpha {al.round(3).tolist()} {row['sec']:.2f}s/step "
                  f"elapsed {time.time() - t_start:.0f}s", flush=True)
        last = step == a.steps
        if vprompts and (step % a.val_every == 0 or last):
            r = run_validation(model, plugin, vprompts, emb_index, objdata)["stable"]
            sc = val_score(r, sam_val)
            valf.write(json.dumps({"step": step, "score": sc, "stable": r, "sam": sam_val}) + "\n")
            valf.flush()
            print(f"val step {step}: score {sc:.2f} (best {best['score']:.2f} @ {best['step']}) {json.dumps(r)}", flush=True)
            if sc > best["score"]:
                best = {"score": sc, "step": step, "val": r}
                plugin.save(os.path.join(a.out, "plugin-best.safetensors"),
                            dict(meta, steps=str(step), val_score=f"{sc:.3f}", val=json.dumps(r)))
        if step % a.ckpt_every == 0 or last or step == stop_at:
            plugin.save(os.path.join(a.out, "plugin-last.safetensors"), dict(meta, steps=str(step)))
            save_atomic_torch({"step": step, "plugin": plugin.state_dict(), "opt": opt.state_dict(),
                               "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                               "best": best, "sam_val": sam_val, "args": vars(a)}, ck)
            plot(a.out)
    logf.close()
    valf.close()
    plot(a.out)
    print(f"done: {step} steps; best val score {best['score']:.2f} at step {best['step']}; {a.out}")
    return 0


def cmd_validate(a):
    torch.set_num_threads(a.threads)
    model = st.SamDecoder(a.model)
    emb_index = EmbeddingIndex(a.emb)
    val = build_samples(split_sets(a.data, "val"), emb_index, "val")
    if not val:
        die(f"{a.emb}: no embedding file matches a val image of {a.data}")
    objdata = ObjectData()
    vrng = np.random.default_rng(a.seed + 17)
    sub = {n: [lst[i] for i in sorted(vrng.permutation(len(lst))[: a.val_limit])] for n, lst in val.items()}
    vp = make_val_prompts(sub, objdata, a.seed)
    plugin = st.StablePlugin.load(a.plugin)
    r = run_validation(model, plugin, vp, emb_index, objdata, modes=("sam", "stable"))
    print(f"{'set':10s} {'prompt':10s} {'SAM':>7s} {'Stable':>7s}")
    for n in sorted(r["sam"]):
        for t in VAL_TYPES:
            print(f"{n:10s} {t:10s} {r['sam'][n][t]:7.2f} {r['stable'][n][t]:7.2f}")
    print(json.dumps(r))
    return 0


# --------------------------------------------------------------------------------------------
# occlusion set


def cmd_make_occluded(a):
    """Pastes another train object's pixels over a train target (random scale/position so that
    it hides 10-50 % of the target) and removes them from the target's mask."""
    rng = np.random.default_rng(a.seed)
    sets = split_sets(a.data, "train")
    objs = []
    for name, d, ids in sets:
        objs += [(name,) + o for o in list_objects(d, ids)]
    if len(objs) < 2:
        die(f"{a.data}: not enough train objects")
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "masks"), exist_ok=True)
    ids, made, tries = [], 0, 0
    while made < a.n and tries < a.n * 20:
        tries += 1
        t = objs[rng.integers(len(objs))]
        o = objs[rng.integers(len(objs))]
        if o[5] == t[5]:  # occluder from another image
            continue
        tm = load_mask(t[3])
        om = load_mask(o[3])
        if tm.sum() < 400 or om.sum() < 400:
            continue
        timg = np.asarray(Image.open(t[5]).convert("RGB")).copy()
        oimg = np.asarray(Image.open(o[5]).convert("RGB"))
        ys, xs = np.nonzero(om)
        oy0, oy1, ox0, ox1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        patch, pm = oimg[oy0:oy1, ox0:ox1], om[oy0:oy1, ox0:ox1]
        ty, tx = np.nonzero(tm)
        tb = (tx.min(), ty.min(), tx.max() + 1, ty.max() + 1)
        # scale the occluder to 30-80 % of the target's box side
        sc = rng.uniform(0.3, 0.8) * max(tb[2] - tb[0], tb[3] - tb[1]) / max(patch.shape[:2])
        nw, nh = max(2, int(patch.shape[1] * sc)), max(2, int(patch.shape[0] * sc))
        if nw >= tm.shape[1] or nh >= tm.shape[0]:
            continue
        patch = np.asarray(Image.fromarray(patch).resize((nw, nh), Image.BILINEAR))
        pm = np.asarray(Image.fromarray(pm.astype(np.uint8) * 255).resize((nw, nh), Image.NEAREST)) > 127
        # top-left so that the occluder's centre falls inside the target's box
        cx = rng.uniform(tb[0], tb[2])
        cy = rng.uniform(tb[1], tb[3])
        x0 = int(np.clip(cx - nw / 2, 0, tm.shape[1] - nw))
        y0 = int(np.clip(cy - nh / 2, 0, tm.shape[0] - nh))
        full = np.zeros_like(tm)
        full[y0:y0 + nh, x0:x0 + nw] = pm
        hidden = (tm & full).sum() / tm.sum()
        if not 0.1 <= hidden <= 0.5:
            continue
        region = timg[y0:y0 + nh, x0:x0 + nw]
        region[pm] = patch[pm]
        newm = tm & ~full
        i = f"occ{made:05d}"
        Image.fromarray(timg).save(os.path.join(a.out, "images", i + ".png"))
        Image.fromarray(newm.astype(np.uint8) * 255).save(os.path.join(a.out, "masks", i + "_0.png"))
        ids.append(i)
        made += 1
    with open(os.path.join(a.out, "train.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")
    with open(os.path.join(a.out, "SOURCE.md"), "w") as f:
        f.write(f"# occluded (synthetic)\n\nMade by tools/train_plugin.py make-occluded --seed {a.seed} --n {a.n} "
                f"from the train split of {a.data}: another train object's pixels pasted over the target "
                f"(hiding 10-50 % of it) and removed from the target mask (masks/ID_0.png). Train only.\n")
    print(f"{a.out}: {made} occluded samples ({tries} tries)")
    return 0 if made else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description="train the Stable-SAM plugin (DSP/DRP)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    default_model = os.environ.get("STABLESAM_MODEL") or os.path.expanduser("~/.cache/stablesam/mobilesam.safetensors")
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--emb", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--model", default=default_model)
    t.add_argument("--init", help="plugin file to start from (default: identity init)")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--warmup", type=int, default=50)
    t.add_argument("--clip", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set-weights", default="", help="e.g. pick168=1,ccp1004=1 (sets drawn with these odds)")
    t.add_argument("--prompt-weights", default="",
                   help="odds of each prompt type per step, e.g. point1=2,refine=1 (default: "
                   + DEFAULT_PROMPT_WEIGHTS + ")")
    t.add_argument("--occluded", help="occlusion set made by make-occluded")
    t.add_argument("--occ-emb", help="its embeddings (default: --emb)")
    t.add_argument("--occ-frac", type=float, default=0.2)
    t.add_argument("--val-every", type=int, default=200)
    t.add_argument("--val-limit", type=int, default=40, help="val objects per set")
    t.add_argument("--ckpt-every", type=int, default=50)
    t.add_argument("--print-every", type=int, default=10)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--stop-after", type=int, default=0,
                   help="stop this invocation after N steps (checkpointed; the schedule stays that of --steps)")
    v = sub.add_parser("validate")
    v.add_argument("--data", required=True)
    v.add_argument("--emb", required=True)
    v.add_argument("--plugin", required=True)
    v.add_argument("--model", default=default_model)
    v.add_argument("--val-limit", type=int, default=40)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--threads", type=int, default=1)
    o = sub.add_parser("make-occluded")
    o.add_argument("--data", required=True)
    o.add_argument("--out", required=True)
    o.add_argument("--n", type=int, default=400)
    o.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        return {"train": cmd_train, "validate": cmd_validate, "make-occluded": cmd_make_occluded}[a.cmd](a)
    except (st.SafetensorsError, OSError) as e:
        die(str(e))


if __name__ == "__main__":
    sys.exit(main())
