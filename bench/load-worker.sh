#!/usr/bin/env bash
# load-worker.sh — the worker load test at full size (docs/RELIABILITY.md): 10,000 random and
# broken prompts with cancellations through the annotator's worker; the suite runs 1,500.
#
#   bench/load-worker.sh [N_PROMPTS] [IMAGE]     env: BUILD (default build), LOAD_SEED
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
n=${1:-10000}
image=${2:-tests/golden/data/images/chelsea.png}
[ -x "$build/tests/ui/load-worker" ] || meson compile -C "$build" tests/ui/load-worker
export STABLESAM_PLUGIN=${STABLESAM_PLUGIN:-$PWD/tests/plugin/data/random-plugin.safetensors}
nice "$build/tests/ui/load-worker" --tap "$n" "$image" | tee "$build/load-worker-$n.log"
