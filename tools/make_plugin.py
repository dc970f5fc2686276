#!/usr/bin/python3
"""make_plugin.py -- writes a Stable-SAM plugin file (engine/PLUGIN.md format).

  /usr/bin/python3 tools/make_plugin.py identity OUT.safetensors [--seed S]
      the no-op initialisation (DESIGN.md section 4): delta = 0, m = 1, alpha = (1/2, 1/2), s = 1,
      so Stable mode equals SAM mode; the other layers get a small seeded random init (the
      starting point of training).
  /usr/bin/python3 tools/make_plugin.py random OUT.safetensors [--seed S]
      a seeded random plugin for golden tests: offsets of several grid cells, amplitudes != 1,
      alpha != 1/2, s != 1 -- every part of the computation is exercised.
"""

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_torch as st  # noqa: E402


def random_plugin_tensors(seed):
    """Seeded random plugin. Scales chosen so that, on MobileSAM keys (block 0: embedding +
    no-mask embedding, block 1: LayerNorm'ed keys), the offsets reach several grid cells,
    the amplitude m spreads over roughly (0.4, 1.6) and alpha is far from (1/2, 1/2)."""
    rng = np.random.default_rng(seed)
    t = st.identity_plugin_tensors(seed=seed + 1)
    t["dsp.scale"][0] = 8.0
    C = st.C_OFF
    for b in range(2):
        w0 = rng.normal(0.0, 1.0, (C + 1, st.EMB, 1, 1)) / math.sqrt(st.EMB)
        # amplitude logit: std about 0.7 on unit-variance features -> m mostly in (0.4, 1.6)
        # (block 0 sees the raw embedding, std about 0.1: larger weights there)
        w0[C] *= 0.7 if b == 1 else 2.5
        t[f"dsp.{b}.offset.0.weight"] = w0.astype(np.float32)
        t[f"dsp.{b}.offset.0.bias"] = rng.normal(0.0, 0.1, C + 1).astype(np.float32)
        t[f"dsp.{b}.offset.1.weight"] = (rng.normal(0.0, 1.0, (C, 1, 5, 5)) / 5.0).astype(np.float32)
        t[f"dsp.{b}.offset.1.bias"] = rng.normal(0.0, 0.1, C).astype(np.float32)
        t[f"dsp.{b}.offset.2.weight"] = rng.uniform(0.5, 1.5, C).astype(np.float32)
        t[f"dsp.{b}.offset.2.bias"] = rng.normal(0.0, 0.1, C).astype(np.float32)
        # d = w3 . GELU(LN(u)): std about 0.35 -> |delta| = 8 tanh(d) of a few cells, some larger
        t[f"dsp.{b}.offset.3.weight"] = (rng.normal(0.0, 0.5, (2, C, 1, 1)) / math.sqrt(C)).astype(np.float32)
        t[f"dsp.{b}.offset.3.bias"] = rng.normal(0.0, 0.15, 2).astype(np.float32)
        t[f"drp.{b}.mlp.0.weight"] = (rng.normal(0.0, 1.0, (16, st.EMB)) / math.sqrt(st.EMB)).astype(np.float32)
        t[f"drp.{b}.mlp.0.bias"] = rng.normal(0.0, 0.1, 16).astype(np.float32)
        t[f"drp.{b}.mlp.1.weight"] = rng.uniform(0.5, 1.5, 16).astype(np.float32)
        t[f"drp.{b}.mlp.1.bias"] = rng.normal(0.0, 0.1, 16).astype(np.float32)
        t[f"drp.{b}.mlp.2.weight"] = (rng.normal(0.0, 1.0, (2, 16)) / math.sqrt(16)).astype(np.float32)
        t[f"drp.{b}.mlp.2.bias"] = np.asarray([0.6, -0.6] if b == 0 else [-0.5, 0.5], np.float32)
        t[f"drp.{b}.scale"][0] = 1.15 if b == 0 else 0.9
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description="write a Stable-SAM plugin file (engine/PLUGIN.md)")
    ap.add_argument("kind", choices=["identity", "random"])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.kind == "identity":
        t = st.identity_plugin_tensors(seed=a.seed)
    else:
        t = random_plugin_tensors(a.seed)
    md = {"format": "stablesam-plugin", "version": "1", "kind": a.kind, "seed": str(a.seed),
          "tool": f"tools/make_plugin.py {st.TOOL_VERSION}", "base_model": "mobilesam",
          "training_data": "none", "steps": "0"}
    try:
        st.st_save(a.out, t, md)
    except OSError as e:
        print(f"make_plugin.py: {a.out}: {e.strerror}", file=sys.stderr)
        return 1
    n = sum(v.size for v in t.values())
    print(f"{a.out}: {a.kind} plugin, seed {a.seed}, {len(t)} tensors, {n} floats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
