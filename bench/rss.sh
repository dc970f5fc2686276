#!/usr/bin/env bash
# Peak RSS of `stablesam segment` on a 12 MP (4000x3000) image, SAM and Stable mode
# (DESIGN §7 / issue target: <= 300 MB). The image is chelsea.png scaled up with ImageMagick.
# Usage: bench/rss.sh [--build DIR] [--plugin FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
plugin=
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --plugin) plugin=$2; shift 2 ;;
        *) echo "usage: bench/rss.sh [--build DIR] [--plugin FILE]" >&2; exit 2 ;;
    esac
done
exe=$build/app/stablesam
[ -x "$exe" ] || { echo "bench: $exe: not built (make build)" >&2; exit 1; }
command -v convert >/dev/null || { echo "bench: needs ImageMagick's convert (apt-get install imagemagick)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
convert "$root/tests/golden/data/images/chelsea.png" -resize '4000x3000!' "$tmp/12mp.png"
ok=0
modes="sam"
[ -n "$plugin" ] || [ -f "$root/resources/stable-sam-plugin.safetensors" ] && modes="sam stable"
for mode in $modes; do
    args=(segment "$tmp/12mp.png" --box 1000,500,3000,2800 --point 2000,1500 --mode "$mode" --out "$tmp/m.png" --json "$tmp/m.json")
    [ -n "$plugin" ] && [ "$mode" = stable ] && args+=(--plugin "$plugin")
    /usr/bin/time -f '%M %e' -o "$tmp/time" "$exe" "${args[@]}"
    read -r kb secs <"$tmp/time"
    mb=$((kb / 1024))
    verdict=ok
    [ "$mb" -le 300 ] || { verdict=MISSED; ok=1; }
    echo "| segment 4000x3000, $mode mode | peak RSS $mb MB | $secs s | <= 300 MB $verdict |"
done
exit $ok
