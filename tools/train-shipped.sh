#!/usr/bin/env bash
# The shipped plugin's training run, end to end, in one command (TRAINING.md):
#   1. embeddings of every image of ../shared/data's sets (C engine, cached, resumable),
#   2. the synthetic occlusion set and its embeddings,
#   3. tools/train_plugin.py with the shipped settings,
#   4. the best val checkpoint copied to WORK/plugin-best.safetensors.
# Usage: tools/train-shipped.sh [--work DIR] [--data DIR] [--build DIR] [--threads N]
# Needs the build (make build), the model (stablesam fetch-model) and python3-torch
# (scripts/install-deps.sh --train). Re-running resumes: embeddings are kept, and the trainer
# continues from WORK/run/ckpt.pt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/../train
data=$root/../shared/data
build=$root/build
threads=2
while [ $# -gt 0 ]; do
    case $1 in
        --work) work=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "usage: tools/train-shipped.sh [--work DIR] [--data DIR] [--build DIR] [--threads N]" >&2; exit 2 ;;
    esac
done
exe=$build/app/stablesam
py=/usr/bin/python3
[ -x "$exe" ] || { echo "train-shipped: $exe: not built (make build)" >&2; exit 1; }
[ -d "$data" ] || { echo "train-shipped: $data: no data sets" >&2; exit 1; }
$py -c "import torch" 2>/dev/null || { echo "train-shipped: $py has no torch (scripts/install-deps.sh --train)" >&2; exit 1; }
mkdir -p "$work/EMB"
t0=$(date +%s)
sets=()
for d in "$data"/*/; do
    [ -f "$d/train.txt" ] || continue
    s=$(basename "$d")
    sets+=("$s")
    echo "train-shipped: embeddings of $s" >&2
    "$exe" embed "$d" --out "$work/EMB/$s" --split all --threads "$threads" >&2
done
# one index over all sets (embedding paths relative to EMB)
$py - "$work/EMB" "${sets[@]}" <<'EOF'
import json, os, sys
root, sets = sys.argv[1], sys.argv[2:]
out = {"images": []}
for s in sets:
    with open(os.path.join(root, s, "index.json")) as f:
        for e in json.load(f)["images"]:
            e = dict(e, embedding=os.path.join(s, e["embedding"]))
            out["images"].append(e)
tmp = os.path.join(root, "index.json.tmp")
with open(tmp, "w") as f:
    json.dump(out, f)
os.replace(tmp, os.path.join(root, "index.json"))
EOF
if [ ! -f "$work/OCC/train.txt" ]; then
    $py "$root/tools/train_plugin.py" make-occluded --data "$data" --out "$work/OCC" --n 400 --seed 0
fi
"$exe" embed "$work/OCC" --out "$work/EMB/occ" --split all --threads "$threads" >&2
t1=$(date +%s)
echo "train-shipped: embeddings ready in $((t1 - t0)) s" >&2
mkdir -p "$work/run"
$py "$root/tools/train_plugin.py" train --data "$data" --emb "$work/EMB" \
    --occluded "$work/OCC" --occ-emb "$work/EMB/occ" --occ-frac 0.2 --out "$work/run" \
    --steps 400 --batch 8 --lr 1e-3 --warmup 30 --seed 0 --set-weights pick168=1,ccp1004=1 \
    --prompt-weights gt_box=1,noisy_box=1.5,point1=2,point3=1,point10=0.5,refine=1.5 \
    --val-every 100 --val-limit 40 --threads "$threads" --print-every 10 --resume
t2=$(date +%s)
cp "$work/run/plugin-best.safetensors" "$work/plugin-best.safetensors"
echo "train-shipped: training took $((t2 - t1)) s; best checkpoint: $work/plugin-best.safetensors" >&2
