#!/usr/bin/python3
"""Reference vectors for the engine's Pillow-exact resize (tests/engine/test_preprocess.c).

For a few image sizes, a deterministic pseudo-random RGB image (an integer hash of the byte index, as in the C test)
is resized the way SAM does (PIL Image.resize(BILINEAR) to the long side 1024) and the FNV-1a
64 hash of the packed RGB result is written, with the size, to tests/engine/resize_vectors.txt.
Run with Debian's python3 (python3-pil): /usr/bin/python3 tools/make_resize_vectors.py
"""
import os
import sys

import numpy as np
from PIL import Image

SIZES = [(300, 451), (451, 300), (1500, 1000), (37, 23), (1024, 768), (4000, 3000), (2048, 5), (640, 480)]


def hash_image(w, h):
    # per-byte integer hash of the index (same as the C test), with smooth structure mixed in
    i = np.arange(w * h * 3, dtype=np.uint64)
    x = (i * np.uint64(2654435761) + np.uint64(w * 7 + h)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(13)
    img = (x >> np.uint64(24)).astype(np.int32).reshape(h, w, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = ((xx * 255) // max(w - 1, 1) + (yy * 255) // max(h - 1, 1)) // 2
    img = (img // 4 + (smooth[..., None] * 3) // 4).astype(np.uint8)
    return img


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for byte in b:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "engine", "resize_vectors.txt")
    lines = ["# w h new_w new_h fnv1a64(packed RGB after PIL BILINEAR resize) — tools/make_resize_vectors.py"]
    for w, h in SIZES:
        img = hash_image(w, h)
        s = 1024.0 / max(w, h)
        nw, nh = int(w * s + 0.5), int(h * s + 0.5)
        r = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))
        lines.append(f"{w} {h} {nw} {nh} {fnv1a64(r.tobytes()):016x}")
        print(lines[-1], file=sys.stderr)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
