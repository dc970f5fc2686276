#!/bin/sh
# screenshots.sh OUTDIR [PLUGIN [DOCS_DIR]] — drives stablesam-annotate under Xvfb like a user
# and saves the documentation screenshots (of the window only) in OUTDIR:
#   a-labelled.png  several objects of several categories on astronaut.png
#   b-circles.png   the decoder's attention circles for a loose box on chelsea.png
#   c-compare.png   SAM | Stable-SAM side by side on the same loose box
# PLUGIN: the Stable-SAM plugin (default: the annotator's default plugin). DOCS_DIR: where to
# copy the three PNGs as well (docs/screenshots). Not a test (no checks beyond "it got
# there"); run it from a configured build dir:
#   xvfb-run -a -s '-screen 0 1400x900x24' tests/e2e/screenshots.sh /tmp/shots PLUGIN docs/screenshots
# with BUILD=<meson build dir> (default: build). Uses a private embedding cache in OUTDIR.
set -eu
out=$1
plugin=${2:-}
docs=${3:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
annotate=$build/ui/stablesam-annotate
export GSETTINGS_SCHEMA_DIR=$build/resources
export GSK_RENDERER=cairo GSETTINGS_BACKEND=memory G_MESSAGES_DEBUG=ssa-window,ssa-worker
export NO_AT_BRIDGE=1 GTK_A11Y=none
rm -rf "$out"
mkdir -p "$out/images" "$out/cache"
export STABLESAM_MODEL=${STABLESAM_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/stablesam/mobilesam.safetensors}
export XDG_CACHE_HOME=$out/cache
"$src/scripts/samples.sh" "$out/images" >/dev/null
log=$out/annotate.log

cat >"$out/project.json" <<'EOF'
{
  "format": "stablesam-project", "version": 1,
  "categories": [
    {"id": 1, "name": "person", "color": "#e6194bff", "supercategory": ""},
    {"id": 2, "name": "helmet", "color": "#3cb44bff", "supercategory": ""},
    {"id": 3, "name": "spacecraft", "color": "#4363d8ff", "supercategory": ""},
    {"id": 4, "name": "flag", "color": "#f58231ff", "supercategory": ""},
    {"id": 5, "name": "patch", "color": "#ffe119ff", "supercategory": ""}
  ],
  "images": [], "current_image": -1, "next_object_id": 1, "undo_limit": 200,
  "history": {"undo": [], "redo": []}
}
EOF

wait_log() { # PATTERN SECONDS
    i=0
    while ! grep -qE "$1" "$log" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt $(($2 * 5)) ]; then echo "screenshots.sh: timed out waiting for '$1'" >&2; exit 1; fi
        sleep 0.2
    done
}
view() {
    v=$(grep 'view: surface' "$log" | tail -1)
    ox=$(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\1/')
    oy=$(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\2/')
    zoom=$(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\3/')
}
to_screen() {
    awk -v x="$X" -v y="$Y" -v ox="$ox" -v oy="$oy" -v z="$zoom" -v ix="$1" -v iy="$2" \
        'BEGIN { printf "%d %d", x + ox + ix * z + 0.5, y + oy + iy * z + 0.5 }'
}
wait_prediction() { # until the newest request's mask is on screen (older ones may be dropped)
    i=0
    while :; do
        sleep 0.2
        gen=$(grep -E 'request [0-9]+:' "$log" | tail -1 | sed -E 's/.*request ([0-9]+):.*/\1/')
        grep -q "prediction $gen shown" "$log" && break
        i=$((i + 1))
        if [ $i -gt 600 ]; then echo "screenshots.sh: no mask for request $gen" >&2; exit 1; fi
    done
    sleep 0.3
}
box() { # X0 Y0 X1 Y1 (image pixels)
    view
    set -- $(to_screen "$1" "$2") $(to_screen "$3" "$4")
    xdotool mousemove "$1" "$2" mousedown 1
    for s in 1 2 3 4 5 6; do
        xdotool mousemove $(($1 + ($3 - $1) * s / 6)) $(($2 + ($4 - $2) * s / 6))
        sleep 0.05
    done
    xdotool mouseup 1
    wait_prediction
}
click() { # X Y [shift]
    view
    set -- $(to_screen "$1" "$2") ${3:-}
    if [ -n "${3:-}" ]; then xdotool keydown shift; fi
    xdotool mousemove "$1" "$2" click 1
    if [ -n "${3:-}" ]; then xdotool keyup shift; fi
    wait_prediction
}
accept() { # CATEGORY_NUMBER
    xdotool key "$1"
    sleep 0.2
    n=$(grep -c 'accepted object' "$log" || true)
    xdotool key Return
    wait_log "accepted object $((n + 1)) " 20
    sleep 0.3
}

set --
[ -n "$plugin" ] && set -- --plugin "$plugin"
"$annotate" --project "$out/project.json" "$out/images/astronaut.png" "$out/images/chelsea.png" "$@" \
    >"$log" 2>&1 &
pid=$!
wait_log 'embedding ready for .*astronaut.png' 900
wait_log 'view: surface' 10
wid=$(xdotool search --sync --onlyvisible --pid "$pid" | head -1)
xdotool windowfocus --sync "$wid"
eval "$(xdotool getwindowgeometry --shell "$wid")"
view

shot() { import -window "$wid" "$out/$1"; }

box 22 10 362 511; accept 1            # the astronaut
box 278 342 511 511; accept 2          # her helmet
box 352 2 470 282; accept 3            # the shuttle model
box 3 3 96 508; accept 4               # the flag
box 132 348 212 426; accept 5          # the mission patch
xdotool mousemove 5 850
sleep 0.5
shot a-labelled.png

wait_log '(prefetched|embedding ready for) .*chelsea.png' 300
xdotool key d                          # the next image: the cat (prefetched)
wait_log 'image shown: .*chelsea.png' 30
sleep 1
xdotool key 3 c                        # a blue mask; attention circles on
sleep 0.3
box 25 2 400 299                       # a loose box around the cat
xdotool mousemove 5 850
sleep 0.5
shot b-circles.png

xdotool key Escape c v                 # clear, circles off, compare on
sleep 1
box 25 2 400 299                       # the same loose box in both models
xdotool mousemove 5 850
sleep 0.5
shot c-compare.png

xdotool key ctrl+q
sleep 1
kill "$pid" 2>/dev/null || true
if [ -n "$docs" ]; then
    mkdir -p "$docs"
    cp "$out/a-labelled.png" "$out/b-circles.png" "$out/c-compare.png" "$docs/"
fi
echo "screenshots.sh: $(ls "$out"/*.png | wc -l) screenshots in $out${docs:+, copied to $docs}"
