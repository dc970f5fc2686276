#!/usr/bin/env bash
# fuzz.sh — run one libFuzzer target for a while (`make fuzz TARGET=weights SECONDS=300`).
#
#   scripts/fuzz.sh TARGET [SECONDS]     TARGET: weights plugin model rle image project coco dataset
#   env: FUZZ_BUILD   build folder (default build-fuzz: clang, ASan + UBSan, libFuzzer coverage)
#        FUZZ_MERGE=1 afterwards, merge what the run found into tests/fuzz/corpus/TARGET
#                     (inputs of at most FUZZ_MERGE_MAX bytes, default 8192: keep the repo small)
#        FUZZ_ARGS    extra libFuzzer flags
#        FUZZ_NOBUILD=1  run the binary already built (e.g. while the tree does not compile)
#
# Seeds: tests/fuzz/corpus/TARGET and tests/fuzz/crashers/TARGET (read-only); new inputs go to
# FUZZ_BUILD/fuzz-corpus/TARGET, crash artifacts to FUZZ_BUILD/fuzz-artifacts/TARGET/. One
# process (the machine is shared): no -jobs / -workers. A crash ends the run with status 1 and
# prints how to minimise the input and keep it as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
seconds=${2:-60}
build=${FUZZ_BUILD:-build-fuzz}
case "$target" in
    weights | plugin | model | rle | image | project | coco | dataset) ;;
    *)
        echo "usage: $0 TARGET [SECONDS]  (TARGET: weights plugin model rle image project coco dataset)" >&2
        exit 2
        ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
    exit 2
fi
command -v clang > /dev/null || { echo "fuzz.sh: clang is needed (apt-get install clang libclang-rt-dev)" >&2; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dgui=false -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
fi
[ "${FUZZ_NOBUILD:-0}" = 1 ] || ninja -C "$build" -j2 "tests/fuzz/fuzz-$target"

# per-target input size limits (the plugin's real files are 332 kB)
case "$target" in
    plugin) max_len=400000 ;;
    model | image) max_len=65536 ;;
    project | coco) max_len=16384 ;;
    dataset) max_len=4096 ;;
    *) max_len=8192 ;;
esac
dict=""
case "$target" in
    weights | plugin | model | project | coco) dict="-dict=tests/fuzz/json.dict" ;;
esac

work="$build/fuzz-corpus/$target"
art="$build/fuzz-artifacts/$target"
mkdir -p "$work" "$art"
seeds=("tests/fuzz/corpus/$target")
[ -d "tests/fuzz/crashers/$target" ] && seeds+=("tests/fuzz/crashers/$target")
if [ "$target" = plugin ] || [ "$target" = model ]; then
    cp -n tests/plugin/data/*.safetensors "$work/" 2> /dev/null || true
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan-known.supp}
export G_SLICE=always-malloc OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

log="$build/fuzz-$target.log"
set +e
# shellcheck disable=SC2086 # $dict and $FUZZ_ARGS are word lists
"$build/tests/fuzz/fuzz-$target" "$work" "${seeds[@]}" -max_total_time="$seconds" \
    -max_len="$max_len" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$art/" $dict ${FUZZ_ARGS:-} 2>&1 | tee "$log" | grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)'
status=${PIPESTATUS[0]}
set -e

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "fuzz.sh: $target: ${runs:-?} executions in ${seconds}s, corpus $(find "$work" -type f | wc -l) inputs, log $log"
if [ "$status" -ne 0 ]; then
    crash=$(find "$art" -maxdepth 1 -type f -printf '%T@ %f\n' | sort -rn | head -1 | cut -d' ' -f2)
    echo "fuzz.sh: $target: CRASH, input $art/$crash. Minimise it and keep it as a regression case:" >&2
    echo "  $build/tests/fuzz/fuzz-$target -minimize_crash=1 -runs=20000 -artifact_prefix=$art/min- $art/$crash" >&2
    echo "  cp $art/min-<newest> tests/fuzz/crashers/$target/<what-it-shows>" >&2
    exit 1
fi
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$build/tests/fuzz/fuzz-$target" -merge=1 -max_len="${FUZZ_MERGE_MAX:-8192}" \
        "tests/fuzz/corpus/$target" "$work" > "$build/fuzz-$target-merge.log" 2>&1
    echo "fuzz.sh: $target: tests/fuzz/corpus/$target now $(find "tests/fuzz/corpus/$target" -type f | wc -l) inputs, $(du -sh "tests/fuzz/corpus/$target" | cut -f1)"
fi
