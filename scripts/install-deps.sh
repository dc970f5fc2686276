#!/usr/bin/env bash
# Installs what Stable-SAM Annotator needs on Debian 12, with apt, skipping what is there.
# Used by `make run` and `make test`; safe to run again.
set -euo pipefail

# Build and run time.
PKGS_BUILD="build-essential meson ninja-build pkg-config libgtk-4-dev libopenblas-dev
  libjson-c-dev libcairo2-dev libgdk-pixbuf-2.0-dev libpng-dev libglib2.0-dev libglib2.0-bin"
# Model fetch and conversion (tools/, never needed by the built program).
PKGS_TOOLS="python3 python3-numpy python3-onnx python3-skimage"
# Tests: GUI under Xvfb, screenshots, sanitizers.
PKGS_TEST="xvfb xauth xdotool imagemagick clang libclang-rt-14-dev valgrind time"

want="$PKGS_BUILD $PKGS_TOOLS"
for arg in "$@"; do
  case "$arg" in
    --test) want="$want $PKGS_TEST" ;;
    --train) want="$want $PKGS_TEST python3-torch python3-scipy" ;;
    *) echo "install-deps: unknown option $arg (use --test and/or --train)" >&2; exit 2 ;;
  esac
done

missing=()
# npm may come with a nodejs that is not Debian's (which bundles npm): only ask apt when absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
