#!/usr/bin/python3
"""Cross-check of `stablesam import` / `export` against an independent COCO RLE implementation
(written here from the pycocotools format description: column-major runs starting with 0s,
LEB-like 5-bit groups with delta coding from the 3rd count).

Usage: coco_crosscheck.py STABLESAM DATASET_DIR [N_IMAGES]
Builds a COCO file from the first N images of DATASET_DIR and their masks/ID_K.png (uncompressed
RLE, exact), runs `stablesam import` then `stablesam export`, decodes the exported compressed
RLE here and compares it with the PNGs pixel for pixel, checks area and bbox, and checks that
`--polygons` writes valid polygons. Prints TAP.
"""
import json, os, subprocess, sys, tempfile

import numpy as np
from PIL import Image


def rle_counts(mask):
    flat = mask.flatten(order="F").astype(np.uint8)
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run)
            run, prev = 0, v
        run += 1
    counts.append(run)
    return counts


def rle_decode_string(s, h, w):
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    flat = np.zeros(h * w, np.uint8)
    pos, val = 0, 0
    for c in counts:
        flat[pos:pos + c] = val
        pos += c
        val ^= 1
    assert pos == h * w, (pos, h * w)
    return flat.reshape((w, h)).T


def main():
    exe, data = sys.argv[1:3]
    n_images = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    with tempfile.TemporaryDirectory(prefix="ssa-coco-") as work:
        return run(exe, data, n_images, work)


def run(exe, data, n_images, work):
    names = sorted(os.listdir(os.path.join(data, "images")))[:n_images]
    coco = {"images": [], "categories": [{"id": 1, "name": "object"}], "annotations": []}
    gt = {}
    ann_id = 1
    for i, name in enumerate(names):
        stem = os.path.splitext(name)[0]
        w, h = Image.open(os.path.join(data, "images", name)).size
        coco["images"].append({"id": i + 1, "file_name": name, "width": w, "height": h})
        k = 0
        while os.path.exists(os.path.join(data, "masks", f"{stem}_{k}.png")):
            m = np.array(Image.open(os.path.join(data, "masks", f"{stem}_{k}.png")).convert("L")) > 127
            coco["annotations"].append({"id": ann_id, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                                        "segmentation": {"size": [h, w], "counts": rle_counts(m)}})
            gt[ann_id] = m
            ann_id += 1
            k += 1
    src = os.path.join(work, "in.json")
    proj = os.path.join(work, "project.json")
    out = os.path.join(work, "out.json")
    with open(src, "w") as f:
        json.dump(coco, f)
    checks = []
    r = subprocess.run([exe, "import", src, "--images", os.path.join(data, "images"), "--project", proj],
                       capture_output=True, text=True)
    checks.append(("import exits 0", r.returncode == 0, r.stderr.strip()))
    r = subprocess.run([exe, "export", proj, "--coco", out], capture_output=True, text=True)
    checks.append(("export exits 0", r.returncode == 0, r.stderr.strip()))
    exported = json.load(open(out))
    anns = {a["id"]: a for a in exported["annotations"]}
    checks.append((f"{len(gt)} annotations kept", sorted(anns) == sorted(gt), ""))
    bad = []
    for aid, m in gt.items():
        a = anns.get(aid)
        if a is None:
            continue
        h, w = a["segmentation"]["size"]
        dec = rle_decode_string(a["segmentation"]["counts"], h, w)
        ys, xs = np.nonzero(m)
        bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)] if len(xs) else [0, 0, 0, 0]
        if not np.array_equal(dec.astype(bool), m) or a["area"] != int(m.sum()) or [int(v) for v in a["bbox"]] != bbox:
            bad.append(aid)
    checks.append(("masks, areas and bboxes identical after import/export", not bad, f"bad ids {bad[:5]}"))
    r = subprocess.run([exe, "export", proj, "--coco", os.path.join(work, "poly.json"), "--polygons"],
                       capture_output=True, text=True)
    poly = json.load(open(os.path.join(work, "poly.json")))
    ok = r.returncode == 0 and all(isinstance(a["segmentation"], list) and a["segmentation"] and
                                   all(len(p) >= 6 and len(p) % 2 == 0 for p in a["segmentation"])
                                   for a in poly["annotations"] if a["area"] > 0)
    checks.append(("polygon export is valid COCO polygons", ok, r.stderr.strip()))
    print(f"1..{len(checks)}")
    for i, (what, ok, why) in enumerate(checks, 1):
        print(f"{'ok' if ok else 'not ok'} {i} {what}" + ("" if ok or not why else f" # {why}"))
    return 0 if all(c[1] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
