#!/usr/bin/env bash
# SAM vs Stable-SAM on the val split of every set of ../shared/data (DESIGN §5 protocols:
# GT box, noisy boxes, 1/3/5/10 points, RITM NoC), both modes, same prompts, same engine.
# Writes docs/eval/SET/{results.json,results.md,*.png}. ccp1004's val split has ~1000 objects,
# so it is cut to its first N objects (--ccp-limit, default 100) to keep the run short.
# Usage: bench/eval-val.sh [--data DIR] [--out DIR] [--plugin FILE] [--ccp-limit N] [--build DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
data=$root/../shared/data
out=$root/docs/eval
plugin=$root/resources/stable-sam-plugin.safetensors
ccp_limit=100
while [ $# -gt 0 ]; do
    case $1 in
        --data) data=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --plugin) plugin=$2; shift 2 ;;
        --ccp-limit) ccp_limit=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        *) echo "usage: bench/eval-val.sh [--data DIR] [--out DIR] [--plugin FILE] [--ccp-limit N] [--build DIR]" >&2; exit 2 ;;
    esac
done
exe=$build/app/stablesam
[ -x "$exe" ] || { echo "eval-val: $exe: not built (make build)" >&2; exit 1; }
[ -d "$data" ] || { echo "eval-val: $data: no data sets here" >&2; exit 1; }
[ -f "$plugin" ] || { echo "eval-val: $plugin: no plugin file" >&2; exit 1; }
for d in "$data"/*/; do
    set_name=$(basename "$d")
    [ -f "$d/val.txt" ] || continue
    limit=()
    [ "$set_name" = ccp1004 ] && limit=(--limit "$ccp_limit")
    echo "eval-val: $set_name" >&2
    "$exe" eval "$d" --mode both --protocol all --split val --seed 0 --plugin "$plugin" "${limit[@]}" \
        --out "$out/$set_name"
done
