#!/bin/sh
# noc-session.sh — end-to-end test of the annotator's NoC session under Xvfb (run by meson
# through xvfb-run). A 2-object GT set is built from chelsea.png (object 1: `stablesam
# segment` on a box; object 2: a hand-drawn ellipse on the eye with an ignore band).
# `stablesam eval --protocol noc --mode both` runs the click simulator on it; then
# `stablesam-annotate --gt SET --noc-mode both` is driven with xdotool: for each of the 4
# rows (2 objects x 2 modes, shuffled) the simulator's clicks from results.json are clicked on
# screen (right button for negative clicks), Enter moves on. 2 clicks into row 3 the app is
# killed and restarted: the session resumes at row 3, which starts over. Checks: the GUI suggests the
# simulator's next click after every click, and the report has the same clicks, the same IoU
# after every click and the same NoC85/NoC90 as eval (tests/e2e/noc-check.c).
# Artifacts (report, screenshots, logs) go to OUTDIR.
#
# usage: noc-session.sh ANNOTATE STABLESAM NOC_CHECK PLUGIN IMAGE OUTDIR
# TAP output; exit 77 (skip) when the model is not available.
set -u
annotate=$1 stablesam=$2 check=$3 plugin=$4 image=$5 out=$6
echo "1..9"

. "$(dirname "$0")/lib.sh"
e2e_model

rm -rf "$out"
set_dir="$out/set"
mkdir -p "$set_dir/images" "$set_dir/masks" "$out/cache"
export XDG_CACHE_HOME="$out/cache"
e2e_env
log="$out/annotate.log"
report="$out/noc-report.json"
app_pid=


# ---- the GT set ------------------------------------------------------------------------------
cp "$image" "$set_dir/images/chelsea.png"
"$stablesam" segment "$set_dir/images/chelsea.png" --box 60,12,330,296 --mode sam \
    --out "$set_dir/masks/chelsea_1.png" >"$out/segment.log" 2>&1 || fail 1 "GT object 1 (stablesam segment)"
convert -size 451x300 xc:black +antialias -fill white -draw "ellipse 170,114 36,30 0,360" \
    -colorspace Gray -depth 8 PNG8:"$set_dir/masks/chelsea_2.png" &&
convert -size 451x300 xc:black +antialias -fill white -draw "ellipse 170,114 39,33 0,360" \
    -fill black -draw "ellipse 170,114 33,27 0,360" -colorspace Gray -depth 8 \
    PNG8:"$set_dir/masks/chelsea_2.ignore.png" || fail 1 "GT object 2 (ImageMagick)"
echo "ok 1 - GT set: 2 objects on chelsea.png (one with an ignore band)"

# ---- the simulator ---------------------------------------------------------------------------
"$stablesam" eval "$set_dir" --protocol noc --mode both --plugin "$plugin" --out "$out/eval" \
    >"$out/eval.log" 2>&1 || fail 2 "stablesam eval --protocol noc"
echo "ok 2 - stablesam eval --protocol noc --mode both ($(tail -1 "$out/eval.log" | sed -E 's/ -> .*//'))"

# ---- the GUI ---------------------------------------------------------------------------------
# wait_count PATTERN N SECONDS: until the log has N lines matching PATTERN
wait_count() {
    i=0
    while [ "$(grep -cE "$1" "$log" 2>/dev/null)" -lt "$2" ]; do
        i=$((i + 1))
        [ $i -gt $(($3 * 10)) ] && return 1
        kill -0 "$app_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 0
}
start_app() {
    "$annotate" --gt "$set_dir" --plugin "$plugin" --noc-mode both --noc-seed 3 \
        --noc-report "$report" >"$log" 2>&1 &
    app_pid=$!
    wait_log 'noc ready' 300 || fail "$1" "NoC session started (image encoded)"
    wait_log 'view: surface' 10 || fail "$1" "view logged"
    sleep 0.5
    wid=$(xdotool search --sync --onlyvisible --pid "$app_pid" 2>/dev/null | head -1)
    [ -n "$wid" ] || fail "$1" "find the window"
    xdotool windowfocus --sync "$wid"
    eval "$(xdotool getwindowgeometry --shell "$wid")"
}
view() {
    v=$(grep 'view: surface' "$log" | tail -1)
    ox=$(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\1/')
    oy=$(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\2/')
    zoom=$(echo "$v" | sed -E 's/.*surface = \(([-0-9.]+), ([-0-9.]+)\) \+ image \* ([0-9.]+).*/\3/')
}
to_screen() { # IX IY -> "SX SY": the centre of image pixel (IX, IY)
    awk -v x="$X" -v y="$Y" -v ox="$ox" -v oy="$oy" -v z="$zoom" -v ix="$1" -v iy="$2" \
        'BEGIN { printf "%d %d", x + ox + (ix + 0.5) * z + 0.5, y + oy + (iy + 0.5) * z + 0.5 }'
}
sugg_bad=0
# do_row ROW TEST [MAX]: replay the simulator's clicks (at most MAX) for row ROW (1-based)
do_row() {
    row=$1 t=$2 max=${3:-99}
    wait_log "noc ready $row:" 60 || fail "$t" "row $row ready"
    ready=$(grep "noc ready $row:" "$log" | tail -1)
    id=$(echo "$ready" | sed -E 's/.*noc ready [0-9]+: ([^ ]+) object ([0-9]+) mode ([a-z]+).*/\1/')
    k=$(echo "$ready" | sed -E 's/.*noc ready [0-9]+: ([^ ]+) object ([0-9]+) mode ([a-z]+).*/\2/')
    mode=$(echo "$ready" | sed -E 's/.*noc ready [0-9]+: ([^ ]+) object ([0-9]+) mode ([a-z]+).*/\3/')
    "$check" clicks "$out/eval/results.json" "$id" "$k" "$mode" >"$out/clicks.txt" ||
        fail "$t" "simulator clicks for $id $k $mode"
    n_before=$(grep -c 'noc iou ' "$log")
    j=0
    while read -r cx cy cl && [ "$j" -lt "$max" ]; do
        # the GUI's suggestion for this click (from the previous mask) is the simulator's
        s=$(grep -E 'noc (suggest|iou) ' "$log" | tail -1 | sed -E 's/.*suggest //')
        if [ "$s" != "$cx $cy $cl" ]; then
            sugg_bad=$((sugg_bad + 1))
            echo "# $id $k $mode click $((j + 1)): GUI suggests $s, simulator $cx $cy $cl"
        fi
        view   # the latest mapping (the layout may have moved)
        set -- $(to_screen "$cx" "$cy")
        button=1; [ "$cl" = 0 ] && button=3
        xdotool mousemove "$1" "$2" click "$button"
        j=$((j + 1))
        wait_count 'noc iou ' $((n_before + j)) 30 || fail "$t" "IoU after click $j of $id $k $mode"
    done <"$out/clicks.txt"
    [ "$max" = 99 ] && echo "$id $k $mode $j" >>"$out/rows.txt"
}
next_row() {
    n=$(grep -c 'noc done' "$log")
    xdotool key Return
    wait_count 'noc done' $((n + 1)) 20 || fail "$1" "Enter finishes the row"
}

start_app 3
echo "ok 3 - annotator in NoC mode: $(grep 'noc session:' "$log" | sed -E 's/.*noc session: //')"
do_row 1 4
next_row 4
do_row 2 4
import -window root "$out/session.png"
next_row 4
echo "ok 4 - rows 1-2 clicked: $(sed 's/$/ clicks;/' "$out/rows.txt" | tr '\n' ' ')"

# 2 clicks into row 3 the app is killed; a restart resumes at row 3, which starts over
do_row 3 5 2
before=$("$check" row "$report" 3)
kill "$app_pid"; wait "$app_pid" 2>/dev/null; app_pid=
cp "$log" "$out/annotate-1.log"
start_app 5
grep -q 'starting at 3' "$log" || fail 5 "resumed at row 3"
after=$("$check" row "$report" 3)
[ "$before" = "open 2" ] && [ "$after" = "open 0" ] || fail 5 "row 3 saved with 2 clicks ($before), reset on resume ($after)"
echo "ok 5 - killed 2 clicks into row 3 (report: $before), restarted: resumed at row 3 (report: $after)"
do_row 3 6
next_row 6
do_row 4 6
# the drift panel for the last prompt (both modes: the other mode is decoded too)
n=$(grep -c 'prediction [0-9]* shown' "$log")
xdotool key i
wait_count 'prediction [0-9]* shown' $((n + 1)) 20 || fail 6 "drift panel: both modes decoded"
sleep 1
import -window root "$out/drift.png"
next_row 6
wait_log 'noc session complete' 10 || fail 6 "session complete"
sleep 0.5
import -window root "$out/complete.png"
[ "$sugg_bad" = 0 ] || fail 6 "GUI suggestions = simulator clicks ($sugg_bad differ)"
echo "ok 6 - rows 3-4 clicked, every GUI suggestion was the simulator's next click"
xdotool key ctrl+q
sleep 1
kill "$app_pid" 2>/dev/null
app_pid=

if result=$("$check" compare "$out/eval/results.json" "$report"); then
    echo "ok 7 - report = eval for every row"
    echo "$result" | sed 's/^/# /'
else
    echo "not ok 7 - report differs from eval"
    echo "$result" | sed 's/^/# /'
    exit 1
fi
# bad input: one line naming the file, exit status 1, no crash
head -c 300 "$report" >"$out/truncated.json"
printf '{"format": "coco"}\n' >"$out/other.json"
msgs=
for case in "--noc-report $out/truncated.json:not JSON" "--noc-report $out/other.json:not a NoC session report" \
            "--noc-mode maybe:--noc-mode is sam, stable or both" \
            "--noc-report $out/no/such/folder/r.json:$out/no/such/folder/r.json"; do
    args=${case%%:*} want=${case#*:}
    # shellcheck disable=SC2086
    timeout 60 "$annotate" --gt "$set_dir" --plugin "$plugin" $args >"$out/bad.log" 2>&1
    rc=$?
    line=$(grep -v 'session bus' "$out/bad.log" | grep -E 'stablesam-annotate: ' | head -1)
    if [ "$rc" != 1 ] || ! echo "$line" | grep -qF -- "$want"; then
        echo "not ok 8 - bad input ($args): exit $rc, '$line'"
        sed 's/^/#   /' "$out/bad.log"
        exit 1
    fi
    msgs="$msgs '$line';"
done
echo "ok 8 - bad input refused with one line:$msgs"
bad=$(cat "$out/annotate-1.log" "$log" | grep -E 'CRITICAL|WARNING' | grep -v 'session bus' || true)
if [ -z "$bad" ]; then
    echo "ok 9 - no GLib criticals or warnings in the logs"
else
    echo "not ok 9 - GLib criticals or warnings in the logs"
    echo "$bad" | sed 's/^/#   /'
    exit 1
fi
