#!/bin/sh
# tests/valgrind.sh — `stablesam segment` and `stablesam eval` under valgrind memcheck
# (docs/RELIABILITY.md §6). Not in the meson suite: `segment` runs the encoder under memcheck,
# which takes a long time (see the figures in docs/RELIABILITY.md).
#
#   tests/valgrind.sh [segment|eval|all]      (default all; VG_BUILD=build-vg, VG_OUT=DIR)
#
# Configures VG_BUILD with -Dnative=false (valgrind 3.19 cannot decode AVX-512) -Dgui=false
# -Dbuildtype=debugoptimized if it is not there, and builds it. One thread everywhere (libgomp
# and OpenBLAS threads under memcheck only cost time). For eval, the embeddings of the 2-image
# set (pick168 val, --limit 2) are computed first WITHOUT valgrind into VG_OUT/cache, so memcheck
# sees the decoder, metrics and writers, not the encoder again.
# VG_NICE sets the niceness of the memcheck runs (default 19; 0 on an idle machine).
# VG_FLAGS adds valgrind options (e.g. --track-origins=yes, about twice as slow).
# Exit status: 0 when every run is clean (no memcheck error, no definitely / indirectly lost
# block), 1 otherwise; logs in VG_OUT/*-vg.log.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build=${VG_BUILD:-$here/build-vg}
out=${VG_OUT:-$build/valgrind}
what=${1:-all}
data=$here/../shared/data/pick168
plugin=$here/tests/plugin/data/random-plugin.safetensors
image=$here/tests/golden/data/images/chelsea.png

case $what in segment|eval|all) ;; *) echo "usage: $0 [segment|eval|all]" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }
if [ ! -d "$build" ]; then
    nice -n 19 meson setup "$build" "$here" -Dnative=false -Dgui=false -Dbuildtype=debugoptimized
fi
nice -n 19 meson compile -C "$build" -j 1 app/stablesam >/dev/null
exe=$build/app/stablesam
mkdir -p "$out"

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
vg() {
    name=$1; shift
    t0=$(date +%s)
    st=0
    nice -n "${VG_NICE:-19}" valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
        $supp ${VG_FLAGS:-} --log-file="$out/$name-vg.log" "$@" >"$out/$name.out" 2>"$out/$name.err" || st=$?
    t1=$(date +%s)
    summary=$(grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$out/$name-vg.log" | sed 's/^==[0-9]*== *//' | tr '\n' ';')
    echo "$name: exit $st, $((t1 - t0)) s wall: $summary"
    if [ "$st" -ne 0 ]; then
        [ "$st" -eq 99 ] && echo "$name: memcheck errors, see $out/$name-vg.log" >&2 \
                         || echo "$name: failed (exit $st), see $out/$name.err" >&2
        fail=1
    fi
}

supp=
[ -f "$here/tests/valgrind.supp" ] && supp=--suppressions=$here/tests/valgrind.supp
fail=0
if [ "$what" != eval ]; then
    vg segment "$exe" segment "$image" --box 60,20,400,290 --out "$out/mask.png" \
        --json "$out/seg.json" --threads 1
fi
if [ "$what" != segment ]; then
    [ -d "$data" ] || { echo "valgrind.sh: $data: no such folder (the pick168 set)" >&2; exit 2; }
    nice -n 19 "$exe" embed "$data" --out "$out/cache" --split val --limit 2 --threads 1 \
        >/dev/null 2>"$out/embed.err"
    rm -rf "$out/ev"
    vg eval "$exe" eval "$data" --split val --limit 2 --out "$out/ev" --cache "$out/cache" \
        --plugin "$plugin" --mode both --protocol box --draws 1 --threads 1
fi
exit $fail
