#!/usr/bin/env bash
# Installs the Debian packages contraseg needs, only those missing.
# Nothing is downloaded at build or run time; this script is the only place packages come from.
#
#   scripts/install-deps.sh            install what is missing (apt-get; root or sudo)
#   scripts/install-deps.sh --list     print the packages the build needs beyond a compiler and
#                                      CMake (what scripts/gpu-bundle.sh downloads)
set -euo pipefail

TOOLCHAIN=(build-essential cmake)
PACKAGES=(
  pkg-config
  zlib1g-dev libpng-dev
  libnifti2-dev          # NIfTI-1 and NIfTI-2 reader/writer (nifti2_io)
  libfmt-dev             # formatting
  libgtest-dev           # GoogleTest
  libbenchmark-dev       # Google Benchmark
  libdnnl-dev            # oneDNN: CPU convolutions (NHWC), the fastest measured CPU path
  libopenblas-dev        # CPU GEMM for dense layers and similarity matrices
  nlohmann-json3-dev     # JSON for configs, safetensors headers and run summaries
)

if [ "${1:-}" = "--list" ]; then
  echo "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${TOOLCHAIN[@]}" "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found. This script supports Debian/Ubuntu only." >&2
  echo "install-deps: install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
