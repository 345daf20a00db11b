#!/usr/bin/env bash
# The GPU check's rehearsal: scripts/gpu-check.sh as a GPU machine would run it, on a machine
# without a GPU. A fresh Debian 12 root with only build-essential and CMake (none of the -dev
# packages), a clone of HEAD plus the package bundle (deps/gpu-bundle, copied explicitly as on
# the GPU machine), and this machine's CUDA toolkit seen read-only at /usr/local/cuda. It must
# check the bundle, configure with the CUDA backend required, build, and reach the GPU steps,
# which are reported as not run for want of a device (gpu-check's exit status 3).
# Exits 0 when it did, 1 when it did not, 3 when no fresh root could be made here.
#
#   scripts/gpu-rehearsal.sh [OUT]      (as root; default OUT /tmp/contraseg-gpu-rehearsal)
#
# OUT receives what gpu-check writes (summary.txt, gpu-check-logs.tar.gz). On 2 cores the build
# takes about 15 minutes: the caps are scaled and the budget raised accordingly.
set -uo pipefail
cd "$(dirname "$0")/.."
out="$(mkdir -p "${1:-/tmp/contraseg-gpu-rehearsal}" && cd "${1:-/tmp/contraseg-gpu-rehearsal}" && pwd)" ||
  { echo "gpu-rehearsal: cannot create ${1:-/tmp/contraseg-gpu-rehearsal}" >&2; exit 2; }
[ -f deps/gpu-bundle/SHA256SUMS ] || { echo "gpu-rehearsal: no bundle in deps/gpu-bundle: make it first with scripts/gpu-bundle.sh" >&2; exit 2; }
[ -x /usr/local/cuda/bin/nvcc ] || { echo "gpu-rehearsal: needs a CUDA toolkit with cuDNN in /usr/local/cuda" >&2; exit 2; }
rm -f "$out/summary.txt"
bash scripts/fresh-root.sh --install "build-essential cmake" --copy deps/gpu-bundle --bind /usr/local/cuda --out "$out" -- \
  env PATH="/usr/local/cuda/bin:/usr/bin:/bin" GPU_CHECK_OUT=/out GPU_CHECK_BUDGET="${GPU_CHECK_BUDGET:-5400}" \
  GPU_CHECK_CAP_SCALE="${GPU_CHECK_CAP_SCALE:-12}" bash scripts/gpu-check.sh
rc=$?
# gpu-check's status 3 (a rehearsal) and fresh-root's 3 (no root could be made) look alike: the
# summary tells them apart.
if [ ! -f "$out/summary.txt" ]; then
  echo "gpu-rehearsal: no summary: the check did not start (fresh-root exit $rc)"
  [ "$rc" -eq 3 ] && exit 3
  exit 1
fi
verdict="$(tail -n 1 "$out/summary.txt")"
echo "gpu-rehearsal: $verdict (summary in $out/summary.txt)"
case "$verdict" in "gpu-check: REHEARSAL:"*) exit 0 ;; *) exit 1 ;; esac
