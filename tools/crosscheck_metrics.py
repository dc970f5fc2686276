#!/usr/bin/python3
"""Cross-check the engine's metrics against an independent numpy/scipy implementation.

The C side is the `metrics-cli` helper built in tests/metrics (ninja target
tests/metrics/metrics-cli). For N ground-truth objects from a dataset folder (DESIGN §9 layout),
this script makes perturbed "predictions" (shifts, dilations, erosions, pasted blobs, noise),
optional ignore bands, and groups of masks, then compares
  - IoU and boundary IoU (boundary-iou-api's definition: mask minus its erosion by
    d = round(0.02 * diagonal) iterations of a 3x3 square, image zero-padded by 1),
  - stability ST = mean_i IoU(M_i, union_j M_j),
  - the RITM click simulator's next click (scipy's exact EDT of the zero-padded error masks),
to a tolerance of 1e-6 (clicks: exactly).

Usage: /usr/bin/python3 tools/crosscheck_metrics.py --cli BUILD/tests/metrics/metrics-cli
           [--data /work/shared/data] [--n 24] [--seed 1]
Needs python3-numpy, python3-scipy, python3-pil (Debian). Exit status 0 when everything agrees.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
from scipy import ndimage


def boundary(mask):
    h, w = mask.shape
    d = int(round(0.02 * np.sqrt(h * h + w * w)))
    d = max(d, 1)
    padded = np.pad(mask.astype(bool), 1, mode="constant", constant_values=False)
    eroded = ndimage.binary_erosion(padded, structure=np.ones((3, 3), bool), iterations=d,
                                    border_value=0)[1:-1, 1:-1]
    return mask.astype(bool) & ~eroded


def iou(a, b, ignore=None):
    a = a.astype(bool)
    b = b.astype(bool)
    keep = np.ones_like(a) if ignore is None else ~ignore.astype(bool)
    inter = np.count_nonzero(a & b & keep)
    union = np.count_nonzero((a | b) & keep)
    return 1.0 if union == 0 else inter / union


def biou(gt, pred, ignore=None):
    return iou(boundary(gt), boundary(pred), ignore)


def stability(masks):
    union = np.zeros_like(masks[0], dtype=bool)
    for m in masks:
        union |= m.astype(bool)
    return float(np.mean([iou(m, union) for m in masks]))


def ritm_click(gt, pred, ignore):
    gt = gt.astype(bool)
    pred = np.zeros_like(gt) if pred is None else pred.astype(bool)
    keep = np.ones_like(gt) if ignore is None else ~ignore.astype(bool)
    fn = gt & ~pred & keep
    fp = ~gt & pred & keep
    dfn = ndimage.distance_transform_edt(np.pad(fn, 1))[1:-1, 1:-1]
    dfp = ndimage.distance_transform_edt(np.pad(fp, 1))[1:-1, 1:-1]
    mfn, mfp = dfn.max(), dfp.max()
    if mfn == 0 and mfp == 0:
        return None
    positive = mfn > mfp
    dt, m = (dfn, mfn) if positive else (dfp, mfp)
    ys, xs = np.where(dt == m)
    return int(xs[0]), int(ys[0]), int(positive)


def perturb(gt, rng):
    """A plausible wrong prediction for gt."""
    kind = rng.integers(0, 6)
    m = gt.astype(bool)
    if kind == 0:
        dy, dx = rng.integers(-8, 9, size=2)
        m = np.roll(np.roll(m, dy, axis=0), dx, axis=1)
    elif kind == 1:
        m = ndimage.binary_dilation(m, iterations=int(rng.integers(1, 10)))
    elif kind == 2:
        m = ndimage.binary_erosion(m, iterations=int(rng.integers(1, 10)))
    elif kind == 3:
        h, w = m.shape
        for _ in range(3):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0:y0 + int(rng.integers(5, 60)), x0:x0 + int(rng.integers(5, 60))] = True
    elif kind == 4:
        flip = rng.random(m.shape) < 0.05
        m = m ^ flip
    else:
        m = np.zeros_like(m) if rng.random() < 0.5 else np.ones_like(m)
    return m


def ignore_band(gt, rng):
    g = gt.astype(bool)
    k = int(rng.integers(2, 6))
    return ndimage.binary_dilation(g, iterations=k) & ~ndimage.binary_erosion(g, iterations=k)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="path of the metrics-cli helper")
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--n", type=int, default=24, help="number of GT objects")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tap", action="store_true", help="TAP output (meson test)")
    args = ap.parse_args()
    if args.tap:
        rc = run(args)
        print(f"{'ok' if rc == 0 else 'not ok'} 1 - C metrics agree with numpy/scipy")
        print("1..1")
        return 0 if rc == 0 else 1
    return run(args)


def run(args):

    masks = []
    for root, _dirs, files in sorted(os.walk(args.data)):
        if os.path.basename(root) != "masks":
            continue
        for f in sorted(files):
            if f.endswith(".png") and not f.endswith(".ignore.png"):
                masks.append(os.path.join(root, f))
    if not masks:
        print(f"crosscheck_metrics: {args.data}: no masks found", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    chosen = [masks[i] for i in sorted(rng.choice(len(masks), size=min(args.n, len(masks)),
                                                   replace=False))]

    tmp = tempfile.mkdtemp(prefix="ss-xcheck-")
    cmds, expect = [], []

    def save(arr, name):
        path = os.path.join(tmp, name)
        np.ascontiguousarray(arr.astype(np.uint8)).tofile(path)
        return path

    for oi, path in enumerate(chosen):
        gt = np.array(Image.open(path).convert("L")) > 127
        h, w = gt.shape
        gp = save(gt, f"{oi}_gt.u8")
        ign = ignore_band(gt, rng) if oi % 3 == 0 else None
        ip = save(ign, f"{oi}_ign.u8") if ign is not None else "-"
        preds = [perturb(gt, rng) for _ in range(6)]
        for pi, p in enumerate(preds):
            pp = save(p, f"{oi}_p{pi}.u8")
            cmds.append(f"pair {w} {h} {gp} {pp} {ip}")
            expect.append(("pair", path, pi, (iou(gt, p, ign), biou(gt, p, ign))))
            cmds.append(f"click {w} {h} {gp} {pp} {ip}")
            expect.append(("click", path, pi, ritm_click(gt, p, ign)))
        cmds.append(f"click {w} {h} {gp} - {ip}")
        expect.append(("click", path, -1, ritm_click(gt, None, ign)))
        group = [gt] + preds[:4]
        names = [save(m, f"{oi}_st{k}.u8") for k, m in enumerate(group)]
        cmds.append(f"st {w} {h} {len(names)} " + " ".join(names))
        expect.append(("st", path, -1, (stability(group),)))

    out = subprocess.run([args.cli], input="\n".join(cmds) + "\n", capture_output=True,
                         text=True, check=True).stdout.splitlines()
    if len(out) != len(cmds):
        print(f"crosscheck_metrics: {args.cli}: {len(out)} answers for {len(cmds)} commands",
              file=sys.stderr)
        return 1
    worst = {"iou": 0.0, "biou": 0.0, "st": 0.0}
    n_click = n_click_bad = 0
    bad = 0
    for line, (kind, path, pi, want) in zip(out, expect):
        if kind == "click":
            n_click += 1
            got = None if line.startswith("error") else tuple(int(v) for v in line.split())
            if got != want:
                n_click_bad += 1
                print(f"{'# ' if args.tap else ''}click mismatch {path} pred {pi}: C {got} python {want}")
            continue
        if line.startswith("error"):
            print(f"{'# ' if args.tap else ''}{path}: {line}")
            bad += 1
            continue
        got = [float(v) for v in line.split()]
        names = ["iou", "biou"] if kind == "pair" else ["st"]
        for name, g, w_ in zip(names, got, want):
            diff = abs(g - w_)
            worst[name] = max(worst[name], diff)
            if diff > 1e-6:
                bad += 1
                print(f"{'# ' if args.tap else ''}{name} mismatch {path} pred {pi}: C {g:.9f} python {w_:.9f}")
    n_pairs = sum(1 for e in expect if e[0] == "pair")
    n_st = sum(1 for e in expect if e[0] == "st")
    pre = "# " if args.tap else ""
    print(f"{pre}objects {len(chosen)}, pairs {n_pairs}, ST groups {n_st}, clicks {n_click}")
    print(pre + "max |C - python|: IoU %.3g, BIoU %.3g, ST %.3g; click mismatches %d"
          % (worst["iou"], worst["biou"], worst["st"], n_click_bad))
    ok = bad == 0 and n_click_bad == 0 and len(chosen) >= 20
    print(pre + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
