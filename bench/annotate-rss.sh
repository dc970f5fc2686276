#!/bin/bash
# bench/annotate-rss.sh IMAGE — peak RSS of stablesam-annotate on IMAGE with two boxes dragged
# (xdotool) and accepted (Enter), fresh embedding cache. Run under Xvfb:
#   xvfb-run -a -s "-screen 0 1600x1000x24" bench/annotate-rss.sh big.png   (BUILD=build dir)
# Prints the number of accepted objects and "PEAK <KB>" (/usr/bin/time -f %M).
set -u
img=$1; src=$(cd "$(dirname "$0")/.." && pwd); build=${BUILD:-$src/build}
out=$(mktemp -d /tmp/ssa-rss-XXXXXX); mkdir -p "$out/cache"; trap 'rm -rf "$out"' EXIT
export XDG_CACHE_HOME=$out/cache GSETTINGS_SCHEMA_DIR=$build/resources GSK_RENDERER=cairo GSETTINGS_BACKEND=memory
export NO_AT_BRIDGE=1 GTK_A11Y=none G_MESSAGES_DEBUG=ssa-window,ssa-worker
export STABLESAM_MODEL=${STABLESAM_MODEL:-$HOME/.cache/stablesam/mobilesam.safetensors}
log=$out/log
/usr/bin/time -f "PEAK %M KB" -o $out/time $build/ui/stablesam-annotate "$img" >$log 2>&1 &
sleep 1
pid=$(pgrep -n stablesam-annot)
for i in $(seq 600); do grep -q 'embedding ready' $log && grep -q 'view: surface' $log && break; sleep 0.5; done
sleep 0.5
wid=$(xdotool search --sync --onlyvisible --pid "$pid" | head -1)
xdotool windowfocus --sync "$wid"
eval "$(xdotool getwindowgeometry --shell "$wid")"
view=$(grep 'view: surface' "$log" | tail -1)
read ox oy z < <(echo "$view" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\1 \2 \3/')
iw=$(identify -format %w "$img"); ih=$(identify -format %h "$img")
box() { # fx0 fy0 fx1 fy1 (fractions of the image)
  x0=$(awk -v X=$X -v o=$ox -v z=$z -v f=$1 -v w=$iw 'BEGIN{printf "%d", X+o+f*w*z}'); y0=$(awk -v X=$Y -v o=$oy -v z=$z -v f=$2 -v w=$ih 'BEGIN{printf "%d", X+o+f*w*z}')
  x1=$(awk -v X=$X -v o=$ox -v z=$z -v f=$3 -v w=$iw 'BEGIN{printf "%d", X+o+f*w*z}'); y1=$(awk -v X=$Y -v o=$oy -v z=$z -v f=$4 -v w=$ih 'BEGIN{printf "%d", X+o+f*w*z}')
  n0=$(grep -c 'accepted object' $log)
  xdotool mousemove $x0 $y0 mousedown 1
  for s in 1 2 3 4 5 6 7 8; do xdotool mousemove $((x0+(x1-x0)*s/8)) $((y0+(y1-y0)*s/8)); sleep 0.05; done
  sleep 0.2; xdotool mouseup 1; sleep 5  # the final mask (a 48 MP mask takes a while)
  xdotool key Return
  for i in $(seq 100); do [ $(grep -c 'accepted object' $log) -gt $n0 ] && break; sleep 0.2; done
}
box 0.13 0.04 0.73 0.98
box 0.35 0.55 0.65 0.95
sleep 1; grep -c 'accepted object' $log
xdotool key ctrl+q; sleep 2; kill $pid 2>/dev/null; wait
grep PEAK "$out/time"
