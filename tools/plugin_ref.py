#!/usr/bin/python3
"""plugin_ref.py -- reference outputs of the Stable-SAM plugin for tests/plugin (C engine vs
PyTorch, through the public API).

Generate (writes DATA_DIR/cases.txt, *.emb.f16, *.ref.f32, random-plugin.safetensors,
identity-plugin.safetensors):

  /usr/bin/python3 tools/plugin_ref.py generate --golden-dev /tmp/golden-dev \
      --out tests/plugin/data [--model ~/.cache/stablesam/mobilesam.safetensors]

Check that the PyTorch side still reproduces the committed data (e.g. after editing
tools/sam_torch.py):

  /usr/bin/python3 tools/plugin_ref.py check --data tests/plugin/data [--model ...]

The image embeddings are the ONNX reference encoder's (tools/golden's developer output,
`IMAGE/embedding.f32`), stored rounded to float16; both the C test and this tool use exactly
those rounded values (as float32), so they compare the decoders on the same input.
Each CASE.ref.f32 is float32 LE: token-0 low-res logits (256*256), block-1 trace weights
(4096), trace positions (4096 x (x, y)); cases.txt holds the prompts, the reference IoU
predictions and the DRP alpha per block.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_plugin  # noqa: E402
import sam_torch as st  # noqa: E402

RANDOM_SEED = 7
IDENTITY_SEED = 0

# (image, width, height): both non-square, so padding and x/y scale factors differ.
IMAGES = [("coffee", 600, 400), ("chelsea", 451, 300)]

# id, image, box, points [(x, y, label)], mask input = reference token-0 logits of case id
CASES = [
    ("coffee_box", "coffee", (172, 18, 412, 300), [], None),
    ("coffee_loosebox", "coffee", (50, 35, 505, 390), [], None),
    ("coffee_pt1", "coffee", None, [(290, 150, 1)], None),
    ("coffee_pts3", "coffee", None, [(120, 250, 1), (455, 250, 1), (290, 150, 0)], None),
    ("coffee_boxpts", "coffee", (172, 18, 412, 300), [(220, 262, 1), (362, 290, 0)], None),
    ("coffee_round2", "coffee", None, [(290, 150, 1), (300, 225, 1)], "coffee_pt1"),
    ("chelsea_box", "chelsea", (135, 82, 205, 145), [], None),
    ("chelsea_pt1", "chelsea", None, [(265, 238, 1)], None),
    ("chelsea_pts3", "chelsea", None, [(250, 150, 1), (100, 200, 1), (435, 250, 0)], None),
    ("chelsea_boxpts", "chelsea", (5, 5, 425, 295), [(250, 150, 1), (440, 120, 0)], None),
    ("chelsea_round2", "chelsea", None, [(265, 238, 1), (262, 195, 0)], "chelsea_pt1"),
    ("chelsea_pts10", "chelsea", None,
     [(250, 150, 1), (100, 200, 1), (300, 100, 1), (200, 250, 1), (150, 120, 1),
      (350, 200, 1), (280, 60, 1), (120, 270, 1), (435, 250, 0), (20, 20, 0)], None),
]

N_LOW = 256 * 256
N_POS = 64 * 64


def _f(x):
    return np.format_float_positional(np.float32(x), unique=True, trim="-") if np.isfinite(x) else "nan"


def run_case(model, plugin, emb, w, h, box, pts, mask_in, mode):
    c, l = st.prompt_arrays(w, h, pts, box)
    mi = None if mask_in is None else torch.from_numpy(mask_in.reshape(1, 1, 256, 256))
    with torch.no_grad():
        return model(torch.from_numpy(emb), c, l, mi, plugin=plugin, mode=mode, want_trace=True)


def ref_blob(o):
    return np.concatenate([o["low_res"][0, 0].numpy().ravel(), o["trace_weight"][0].numpy().ravel(),
                           o["trace_pos"][0].numpy().ravel()]).astype("<f4")


def generate(a):
    os.makedirs(a.out, exist_ok=True)
    model = st.SamDecoder(a.model)
    rnd_t = make_plugin.random_plugin_tensors(RANDOM_SEED)
    id_t = st.identity_plugin_tensors(seed=IDENTITY_SEED)
    common = {"format": "stablesam-plugin", "version": "1", "tool": f"tools/make_plugin.py {st.TOOL_VERSION}",
              "base_model": "mobilesam", "training_data": "none", "steps": "0"}
    st.st_save(os.path.join(a.out, "random-plugin.safetensors"), rnd_t,
               dict(common, kind="random", seed=str(RANDOM_SEED)))
    st.st_save(os.path.join(a.out, "identity-plugin.safetensors"), id_t,
               dict(common, kind="identity", seed=str(IDENTITY_SEED)))
    rnd = st.StablePlugin(rnd_t)
    ident = st.StablePlugin(id_t)
    lines = ["# Stable-SAM plugin golden cases (tools/plugin_ref.py generate); prompts in original pixels.",
             "# image NAME W H EMBEDDING.f16",
             "# case ID IMAGE box=x0,y0,x1,y1|- pts=x,y,label;...|- mask=CASE|- iou=4 alpha=b0a1,b0a2,b1a1,b1a2 ref=FILE"]
    embs = {}
    for name, w, h in IMAGES:
        e32 = st.load_embedding_f32(os.path.join(a.golden_dev, name, "embedding.f32"))
        e16 = e32.astype("<f2")
        e16.tofile(os.path.join(a.out, f"{name}.emb.f16"))
        embs[name] = (e16.astype(np.float32), w, h)
        lines.append(f"image {name} {w} {h} {name}.emb.f16")
    refs = {}
    print(f"{'case':16s} {'|stable-sam| tok0':>17s} {'|id-sam| all':>12s} {'alpha b0':>16s} {'alpha b1':>16s} "
          f"{'|delta| mean/max':>16s}")
    for cid, img, box, pts, mfrom in CASES:
        emb, w, h = embs[img]
        mask_in = None if mfrom is None else refs[mfrom][:N_LOW].copy()
        o = run_case(model, rnd, emb, w, h, box, pts, mask_in, "stable")
        s = run_case(model, None, emb, w, h, box, pts, mask_in, "sam")
        i = run_case(model, ident, emb, w, h, box, pts, mask_in, "stable")
        blob = ref_blob(o)
        refs[cid] = blob
        blob.tofile(os.path.join(a.out, f"{cid}.ref.f32"))
        g = np.stack(np.meshgrid(np.arange(64), np.arange(64)), -1).reshape(-1, 2)
        dpos = np.linalg.norm(o["trace_pos"][0].numpy() - g, axis=1)
        d_ss = (o["low_res"][0, 0] - s["low_res"][0, 0]).abs().max().item()
        d_id = (i["low_res"] - s["low_res"]).abs().max().item()
        al = o["alpha"][0].numpy()
        print(f"{cid:16s} {d_ss:17.3f} {d_id:12.2e} {al[0, 0]:7.4f} {al[0, 1]:7.4f}  {al[1, 0]:7.4f} {al[1, 1]:7.4f}  "
              f"{dpos.mean():7.2f} {dpos.max():7.2f}")
        if d_id > 1e-4:
            print(f"plugin_ref.py: {cid}: identity plugin differs from SAM by {d_id}", file=sys.stderr)
            return 1
        bs = "-" if box is None else ",".join(str(v) for v in box)
        ps = "-" if not pts else ";".join(f"{x},{y},{lab}" for x, y, lab in pts)
        iou = ",".join(_f(v) for v in o["iou"][0].numpy())
        alpha = ",".join(_f(v) for v in al.ravel())
        lines.append(f"case {cid} {img} box={bs} pts={ps} mask={mfrom or '-'} iou={iou} alpha={alpha} "
                     f"ref={cid}.ref.f32")
    with open(os.path.join(a.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{a.out}: {len(IMAGES)} images, {len(CASES)} cases")
    return 0


def check(a):
    """Recomputes every case from the committed plugin + embeddings and compares."""
    model = st.SamDecoder(a.model)
    rnd = st.StablePlugin.load(os.path.join(a.data, "random-plugin.safetensors"))
    embs, refs, worst = {}, {}, 0.0
    with open(os.path.join(a.data, "cases.txt")) as f:
        for line in f:
            t = line.split()
            if not t or t[0].startswith("#"):
                continue
            if t[0] == "image":
                e = np.fromfile(os.path.join(a.data, t[4]), "<f2").astype(np.float32).reshape(256, 64, 64)
                embs[t[1]] = (e, int(t[2]), int(t[3]))
                continue
            kv = dict(x.split("=", 1) for x in t[3:])
            emb, w, h = embs[t[2]]
            box = None if kv["box"] == "-" else tuple(float(v) for v in kv["box"].split(","))
            pts = [] if kv["pts"] == "-" else [tuple(float(v) for v in p.split(",")) for p in kv["pts"].split(";")]
            ref = np.fromfile(os.path.join(a.data, kv["ref"]), "<f4")
            refs[t[1]] = ref
            mask_in = None if kv["mask"] == "-" else refs[kv["mask"]][:N_LOW].copy()
            o = run_case(model, rnd, emb, w, h, box, pts, mask_in, "stable")
            blob = ref_blob(o)
            d = np.abs(blob - ref)
            da = np.abs(o["alpha"][0].numpy().ravel() - np.array([float(v) for v in kv["alpha"].split(",")])).max()
            print(f"{t[1]:16s} logits {d[:N_LOW].max():.2e} weights {d[N_LOW:N_LOW + N_POS].max():.2e} "
                  f"pos {d[N_LOW + N_POS:].max():.2e} alpha {da:.2e}")
            worst = max(worst, d[:N_LOW].max())
    print(f"worst logit |d| {worst:.3g}")
    return 0 if worst < 1e-4 else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    default_model = os.environ.get("STABLESAM_MODEL") or os.path.expanduser(
        "~/.cache/stablesam/mobilesam.safetensors")
    g = sub.add_parser("generate")
    g.add_argument("--golden-dev", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--model", default=default_model)
    c = sub.add_parser("check")
    c.add_argument("--data", required=True)
    c.add_argument("--model", default=default_model)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        return generate(a) if a.cmd == "generate" else check(a)
    except (OSError, st.SafetensorsError, ValueError) as e:
        print(f"plugin_ref.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
