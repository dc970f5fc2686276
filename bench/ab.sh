#!/bin/bash
# bench/ab.sh N LABEL:ENV:BINARY ... — the decoder of two or more `stablesam` binaries side by
# side on a noisy machine: N rounds, each running every binary once (alternating) with
# `bench --runs 1 --decoder-runs 30 --threads ${TH:-1}`; prints, per binary, the minimum and the
# median over the rounds of the SAM and Stable-SAM cached-decoder medians. ENV may be empty
# (e.g. "old::/tmp/stablesam-old" "new::build/app/stablesam"; "x:VAR=1:build/app/stablesam").
set -euo pipefail
N=$1; shift
declare -A res
for _ in $(seq "$N"); do
    for spec in "$@"; do
        IFS=: read -r lab envs bin <<< "$spec"
        out=$(env $envs OPENBLAS_NUM_THREADS=1 "$bin" bench --runs 1 --decoder-runs 30 --threads "${TH:-1}" 2>/dev/null | grep -E '^decoder')
        sam=$(echo "$out" | awk '$2=="SAM"{print $3}'); st=$(echo "$out" | awk '$2=="Stable"{print $3}')
        res[$lab]="${res[$lab]:-} $sam/${st:-0}"
    done
done
for spec in "$@"; do
    IFS=: read -r lab _ _ <<< "$spec"
    echo "$lab:${res[$lab]}" | /usr/bin/python3 -c "
import sys
l = sys.stdin.read().split(':', 1); v = [tuple(map(float, x.split('/'))) for x in l[1].split()]
s = sorted(a for a, b in v); t = sorted(b for a, b in v)
print(l[0], 'SAM min %.2f med %.2f | Stable min %.2f med %.2f' % (s[0], s[len(s)//2], t[0], t[len(t)//2]))"
done
