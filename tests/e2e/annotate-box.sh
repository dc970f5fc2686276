#!/bin/sh
# annotate-box.sh — end-to-end test of stablesam-annotate under Xvfb (run by meson through
# xvfb-run). A user drags a box around the cat in chelsea.png, waits for the mask, presses
# Enter, exports COCO (Ctrl+E, Enter in the file chooser). Checks: the export has exactly one
# annotation and its mask matches `stablesam segment` on the same box (IoU >= 0.98).
# Artifacts (screenshots, logs, JSON) go to OUTDIR.
#
# usage: annotate-box.sh ANNOTATE STABLESAM CHECKER SAMPLES_SH OUTDIR
# TAP output; exit 77 (skip) when the model is not available.
set -u
annotate=$1 stablesam=$2 checker=$3 samples=$4 out=$5
echo "1..6"

. "$(dirname "$0")/lib.sh"
e2e_model

rm -rf "$out"
mkdir -p "$out/images" "$out/cache"
"$samples" "$out/images" >/dev/null || { echo "Bail out! samples.sh failed"; exit 1; }
export XDG_CACHE_HOME="$out/cache"       # a fresh embedding cache: the encoder really runs
e2e_env
log="$out/annotate.log"
image="$out/images/chelsea.png"



"$annotate" "$image" >"$log" 2>&1 &
app_pid=$!
wait_log 'embedding ready for .*chelsea.png' 900 || fail 1 "image shown and encoded"
wait_log 'view: surface' 10 || fail 1 "image shown and encoded"
echo "ok 1 - image shown and encoded"
sleep 0.5

# Where image pixels are on the screen: window position + the logged surface mapping.
wid=$(xdotool search --sync --onlyvisible --pid "$app_pid" 2>/dev/null | head -1)
[ -n "$wid" ] || fail 2 "find the window"
xdotool windowfocus --sync "$wid"   # no window manager under Xvfb: give it the keyboard
eval "$(xdotool getwindowgeometry --shell "$wid")"
view=$(grep 'view: surface' "$log" | tail -1)
ox=$(echo "$view" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\1/')
oy=$(echo "$view" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\2/')
zoom=$(echo "$view" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\3/')
to_screen() { # IX IY -> "SX SY"
    awk -v x="$X" -v y="$Y" -v ox="$ox" -v oy="$oy" -v z="$zoom" -v ix="$1" -v iy="$2" \
        'BEGIN { printf "%d %d", x + ox + ix * z + 0.5, y + oy + iy * z + 0.5 }'
}
# The cat: roughly x 60..330, y 10..295 of the 451x300 image.
set -- $(to_screen 60 12); x0=$1 y0=$2
set -- $(to_screen 330 296); x1=$1 y1=$2
xdotool mousemove "$x0" "$y0" mousedown 1
steps=8
for s in $(seq 1 $steps); do
    xdotool mousemove $((x0 + (x1 - x0) * s / steps)) $((y0 + (y1 - y0) * s / steps))
    sleep 0.05
done
sleep 0.2
xdotool mouseup 1
# the newest request's mask on screen (older ones may be dropped: latest request wins)
i=0
while :; do
    sleep 0.2
    req=$(grep -E 'request [0-9]+: mode [a-z]+ box' "$log" | tail -1)
    gen=$(echo "$req" | sed -E 's/.*request ([0-9]+): .*/\1/')
    [ -n "$req" ] && grep -q "prediction $gen shown" "$log" && break
    i=$((i + 1))
    [ $i -gt 600 ] && fail 3 "mask for the final box shown"
done
[ -n "$req" ] || fail 2 "box drag produced a prompt"
mode=$(echo "$req" | sed -E 's/.*: mode ([a-z]+) box.*/\1/')
box=$(echo "$req" | sed -E 's/.* box ([-0-9.,]+) points.*/\1/')
n_req=$(grep -cE 'request [0-9]+: mode' "$log")
n_shown=$(grep -c 'prediction [0-9]* shown' "$log")
echo "ok 2 - box drag: $n_req requests while dragging, $n_shown masks shown, final box $box ($mode)"
import -window root "$out/mask.png"
echo "ok 3 - mask shown ($(grep "prediction $gen shown" "$log" | sed -E 's/.*shown: //'))"

xdotool key Return
wait_log 'accepted object' 20 || fail 4 "Enter accepts the mask"
sleep 0.3
xdotool key ctrl+e
dialog=$(timeout 20 xdotool search --sync --onlyvisible --name 'Export COCO' 2>/dev/null | head -1)
[ -n "$dialog" ] || fail 4 "export dialog opened"
sleep 1
xdotool windowfocus --sync "$dialog"
xdotool key Return
wait_log 'exported COCO to' 20 || fail 4 "COCO exported"
coco=$(grep 'exported COCO to' "$log" | tail -1 | sed -E 's/.*exported COCO to //')
sleep 0.5
import -window root "$out/accepted.png"
echo "ok 4 - accepted and exported to $coco"
xdotool key ctrl+q
sleep 1
kill "$app_pid" 2>/dev/null
app_pid=

"$stablesam" segment "$image" --box "$box" --mode "$mode" --json "$out/segment.json" \
    --out "$out/segment.png" >"$out/segment.log" 2>&1 || fail 5 "stablesam segment ran"
if result=$("$checker" "$coco" "$out/segment.json" 0.98); then
    echo "ok 5 - $result"
else
    echo "not ok 5 - $result"
    exit 1
fi
# (the session-bus warning is Xvfb's missing D-Bus, not ours)
bad=$(grep -E 'CRITICAL|WARNING' "$log" | grep -v 'session bus' || true)
if [ -z "$bad" ]; then
    echo "ok 6 - no GLib criticals or warnings in the log"
else
    echo "not ok 6 - GLib criticals or warnings in the log"
    echo "$bad" | sed 's/^/#   /'
    exit 1
fi
