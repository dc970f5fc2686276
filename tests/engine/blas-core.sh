#!/usr/bin/env bash
# engine/blas.c: the OpenBLAS kernel family the engine runs. A user's OPENBLAS_CORETYPE is
# honoured; without it, a CPU with AVX2 + FMA (or AVX-512) must not be left on OpenBLAS's
# SSE-era fallbacks (Debian's 0.3.21 picks "Prescott" for CPUs it does not know).
# Usage: blas-core.sh STABLESAM_EXE
set -u
exe=$1
echo "1..2"
core() { "$exe" bench --runs 1 --decoder-runs 1 --threads 1 --plugin none --json 2>/dev/null |
         sed -n 's/.*"blas_core": *"\([^"]*\)".*/\1/p'; }
c=$(OPENBLAS_CORETYPE=Haswell core)
if [ "$c" = Haswell ]; then echo "ok 1 - OPENBLAS_CORETYPE=Haswell honoured"
else echo "not ok 1 - OPENBLAS_CORETYPE=Haswell gave '$c'"; fail=1; fi
flags=$(grep -m1 '^flags' /proc/cpuinfo)
c=$(env -u OPENBLAS_CORETYPE bash -c "$(declare -f core); exe='$exe'; core")
if ! grep -qw avx2 <<<"$flags" || ! grep -qw fma <<<"$flags"; then
    echo "ok 2 # SKIP no AVX2+FMA on this CPU (kernel: $c)"
else
    case $c in
        Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Katmai|Coppermine|Northwood|Banias|"")
            echo "not ok 2 - AVX2+FMA CPU left on '$c' kernels"; fail=1 ;;
        *) echo "ok 2 - kernel family $c on an AVX2+FMA CPU" ;;
    esac
fi
exit ${fail:-0}
