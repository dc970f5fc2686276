#!/bin/sh
# latency.sh [PLUGIN] — the annotator's interactive numbers (DESIGN §7):
#   1. prompt -> mask on screen, embedding cached: build/bench/annotator-latency replays
#      N prompts (box drags, clicks, refinements) through the real window, worker and canvas,
#      in SAM mode and in Stable-SAM mode (PLUGIN, else the default plugin), on astronaut.png
#      (512x512) and on a 4000x3000 image;
#   2. peak RSS of stablesam-annotate itself with the 4000x3000 image open: the program is
#      started under Xvfb, a box is dragged with xdotool, the mask is accepted (Enter), and
#      VmHWM is read from /proc.
# Runs under its own Xvfb; needs xvfb-run, xdotool, ImageMagick (convert) and the model.
# usage: bench/latency.sh [PLUGIN]   (BUILD=<meson build dir>, default build; N=prompts, 240)
set -eu
plugin=${1:-}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build}
n=${N:-240}
bench=$build/bench/annotator-latency
annotate=$build/ui/stablesam-annotate
for f in "$bench" "$annotate"; do
    [ -x "$f" ] || { echo "latency.sh: $f: not built (meson compile -C $build)" >&2; exit 1; }
done
if [ -z "${DISPLAY_READY:-}" ]; then
    DISPLAY_READY=1 exec xvfb-run -a -s '-screen 0 1400x900x24' "$0" "$@"
fi
model=${STABLESAM_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/stablesam/mobilesam.safetensors}
[ -f "$model" ] || { echo "latency.sh: $model: no model (stablesam fetch-model)" >&2; exit 1; }
export STABLESAM_MODEL="$model"
work=$(mktemp -d /tmp/ssa-latency-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait; rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"   # a private embedding cache
export GSETTINGS_SCHEMA_DIR=$build/resources GSK_RENDERER=cairo GSETTINGS_BACKEND=memory
export NO_AT_BRIDGE=1 GTK_A11Y=none
"$src/scripts/samples.sh" "$work/images" >/dev/null
convert "$work/images/chelsea.png" -resize '4000x3000!' "$work/images/big.png"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
set -- --n "$n"
[ -n "$plugin" ] && set -- "$@" --plugin "$plugin"
for img in astronaut.png big.png; do
    for mode in sam stable; do
        echo
        "$bench" "$work/images/$img" --mode "$mode" "$@" --json "$work/$img.$mode.json" 2>"$work/err" ||
            { cat "$work/err" >&2; exit 1; }
    done
done

# 2. the real program with the big image open
echo
log=$work/annotate.log
set --
[ -n "$plugin" ] && set -- --plugin "$plugin"
G_MESSAGES_DEBUG=ssa-window "$annotate" --project "$work/big-project.json" "$work/images/big.png" "$@" >"$log" 2>&1 &
pid=$!
i=0
until grep -q 'embedding ready' "$log" && grep -q 'view: surface' "$log"; do
    i=$((i + 1)); [ $i -lt 3000 ] || { echo "latency.sh: no embedding for big.png" >&2; kill $pid; exit 1; }
    kill -0 $pid 2>/dev/null || { echo "latency.sh: stablesam-annotate exited" >&2; cat "$log" >&2; exit 1; }
    sleep 0.2
done
sleep 0.5
wid=$(xdotool search --sync --onlyvisible --pid "$pid" | head -1)
xdotool windowfocus --sync "$wid"
eval "$(xdotool getwindowgeometry --shell "$wid")"
v=$(grep 'view: surface' "$log" | tail -1)
set -- $(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\1 \2 \3/')
ox=$1 oy=$2 z=$3
sx() { awk -v a="$X" -v o="$ox" -v z="$z" -v i="$1" 'BEGIN { printf "%d", a + o + i * z }'; }
sy() { awk -v a="$Y" -v o="$oy" -v z="$z" -v i="$1" 'BEGIN { printf "%d", a + o + i * z }'; }
x0=$(sx 530) y0=$(sy 80) x1=$(sx 2930) y1=$(sy 2960)   # the cat
xdotool mousemove "$x0" "$y0" mousedown 1
for s in 1 2 3 4 5 6 7 8; do
    xdotool mousemove $((x0 + (x1 - x0) * s / 8)) $((y0 + (y1 - y0) * s / 8)); sleep 0.05
done
xdotool mouseup 1
i=0
while :; do
    gen=$(grep -E 'request [0-9]+:' "$log" | tail -1 | sed -E 's/.*request ([0-9]+):.*/\1/')
    [ -n "$gen" ] && grep -q "prediction $gen shown" "$log" && break
    i=$((i + 1)); [ $i -lt 600 ] || { echo "latency.sh: no mask on big.png" >&2; kill $pid; exit 1; }
    sleep 0.2
done
xdotool key Return
sleep 1.5
grep -q 'accepted object' "$log" || echo "latency.sh: warning: Enter did not accept" >&2
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
cur=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
echo "stablesam-annotate with big.png (4000x3000) open, one box drag + accept: peak RSS (VmHWM) $rss MB, RSS now $cur MB"
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=
