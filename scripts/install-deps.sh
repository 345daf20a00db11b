#!/usr/bin/env bash
# Installs the Debian packages contraseg needs, only those missing.
# Nothing is downloaded at build or run time; this script is the only place packages come from.
#
#   scripts/install-deps.sh            install what is missing (apt-get; root or sudo)
#   scripts/install-deps.sh --list     print the packages the build needs beyond a compiler and
#                                      CMake (what scripts/gpu-bundle.sh downloads), less ITK
set -euo pipefail

TOOLCHAIN=(build-essential cmake)
# What every build needs, the GPU check's included: scripts/gpu-bundle.sh downloads these (--list).
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
# Not in --list: the GPU check builds only the CUDA tests, configured with -DCONTRASEG_WITH_ITK=OFF,
# so its bundle stays without ITK's 47 packages.
ITK_PACKAGES=(
  libinsighttoolkit5-dev # ITK: N4 bias-field correction (preprocess --n4, n4 = true); CONTRASEG_WITH_ITK
)
# Not in --list either: a private single-node cluster for the Slurm executor's tests
# (scripts/slurm-local.sh); the GPU check does not run them.
SLURM_PACKAGES=(slurmctld slurmd slurm-client munge)

if [ "${1:-}" = "--list" ]; then
  echo "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${TOOLCHAIN[@]}" "${PACKAGES[@]}" "${ITK_PACKAGES[@]}" "${SLURM_PACKAGES[@]}"; do
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
