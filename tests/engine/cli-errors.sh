#!/usr/bin/env bash
# `stablesam segment` on bad input: one line on stderr naming the file and the problem, exit 1
# (2 for usage), never a crash. Usage: cli-errors.sh STABLESAM_EXE IMAGE
set -u
exe=$1
img=$2
model=${STABLESAM_MODEL:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
echo "1..16"

# expect STATUS NEEDLE -- ARGS...: exit status, one stderr line containing NEEDLE
expect() {
    local want=$1 needle=$2
    shift 3
    n=$((n + 1))
    "$exe" "$@" >"$tmp/out" 2>"$tmp/err"
    local st=$? lines desc
    lines=$(wc -l <"$tmp/err")
    desc=$(printf '%s ' "$@" | cut -c1-100)
    if [ "$st" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qF -- "$needle" "$tmp/err"; then
        echo "ok $n - $desc-> $(cat "$tmp/err")"
    else
        echo "not ok $n - $desc-> status $st (want $want), $lines stderr lines: $(head -c 300 "$tmp/err")"
        fail=1
    fi
}

printf 'this is not an image\n' >"$tmp/notimage.png"
head -c 2000 "$img" >"$tmp/truncated.png"
head -c 5000000 "$model" >"$tmp/truncated.safetensors"
printf 'garbage' >"$tmp/garbage.safetensors"
head -c 100 /dev/zero >"$tmp/zeros.f32"

expect 1 "$tmp/notimage.png" -- segment "$tmp/notimage.png" --box 1,1,20,20
expect 1 "$tmp/truncated.png" -- segment "$tmp/truncated.png" --box 1,1,20,20
expect 1 "no such file" -- segment "$tmp/missing.png" --box 1,1,20,20
expect 1 "$tmp/truncated.safetensors" -- segment "$img" --box 1,1,20,20 --model "$tmp/truncated.safetensors"
expect 1 "$tmp/garbage.safetensors" -- segment "$img" --box 1,1,20,20 --model "$tmp/garbage.safetensors"
expect 1 "$tmp/missing.safetensors" -- segment "$img" --box 1,1,20,20 --model "$tmp/missing.safetensors"
expect 1 "box is empty" -- segment "$img" --box 5000,5000,6000,6000
expect 1 "box is empty" -- segment "$img" --box 10,10,10,50
expect 1 "non-finite" -- segment "$img" --point nan,5
expect 1 "non-finite" -- segment "$img" --box 0,0,inf,20
expect 1 "$tmp/zeros.f32" -- segment "$img" --point 10,10 --mask-input "$tmp/zeros.f32"
expect 2 "--box wants" -- segment "$img" --box 1,2,3
expect 2 "--point wants" -- segment "$img" --point 1,2,7
expect 2 "give a --box" -- segment "$img"
expect 2 "unknown command" -- frobnicate
# 10,000 points: refused with a clear message
pts=()
for i in $(seq 1 10000); do pts+=(--point "$((i % 200)),$((i % 150))"); done
expect 1 "10000 points" -- segment "$img" "${pts[@]}"
exit $fail
