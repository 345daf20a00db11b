#!/usr/bin/env bash
# Everything that needs a GPU, in one call that ends with a table, within a time budget (GPU time
# is scarce: run this first on a GPU machine). Steps, most valuable first, each with a time cap:
#
#   environment  GPU, nvcc, cuDNN; unpacks the package bundle (deps/gpu-bundle, dpkg -x)
#   configure    CMake for sm_90 with the CUDA backend (a build without it would skip every GPU test)
#   build        everything (Ninja when present)
#   gpu-tests    every test with "Cuda" in its name (CUDA vs CPU parity): they must run, not skip
#   bench        one training step on the GPU (BM_UNetStep/cuda/batch:20/size:192)
#   peer         the same step in PyTorch (bench/peer/unet_step.py), when python3 has CUDA torch
#   memcheck     compute-sanitizer memcheck over the CUDA op tests (Cuda.* of test_ops)
#   racecheck    compute-sanitizer racecheck over the kernels with shared memory
#   ctest        every other test (the CPU ones, which CI also runs)
#
# A step that outlives its cap is killed and marked TIMEOUT; the rest go on. Without a GPU (no
# working nvidia-smi) it is a rehearsal: a CPU-only build and the CPU tests, the GPU steps SKIP.
# Exits non-zero if any step failed or timed out.
#
# On the GPU machine (offline; the bundle was made beforehand with scripts/gpu-bundle.sh):
#   GPU_CHECK_OUT=$OUT bash scripts/gpu-check.sh
#
# Environment (all optional):
#   CONTRASEG_DEPS_BUNDLE  folder of .deb files to unpack (default deps/gpu-bundle when present)
#   CONTRASEG_DEPS_PREFIX  ':'-separated folders already holding packages unpacked with dpkg -x
#   CUDNN_ROOT             a cuDNN with include/ and lib/ (else /usr/local/cuda, else the cuDNN
#                          that python3's PyTorch wheels carry)
#   CUDA_ARCH              CMAKE_CUDA_ARCHITECTURES (default 90)
#   BUILD_DIR              build folder (default <repo>/build-gpu)
#   JOBS                   parallel jobs (default: all cores)
#   GPU_CHECK_BUDGET       seconds for the whole check (default 480); each cap is cut to what is left
#   GPU_CHECK_CAP_SCALE    multiplies every step's cap (default 1; the caps are sized for 16 cores)
#   GPU_CHECK_OUT          a folder that receives summary.txt and a tarball of the logs
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-gpu}"
ARCH="${CUDA_ARCH:-90}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
BUDGET="${GPU_CHECK_BUDGET:-480}"
CAP_SCALE="${GPU_CHECK_CAP_SCALE:-1}"
LOGS="$BUILD/gpu-check-logs"
mkdir -p "$LOGS" || { echo "gpu-check: cannot create $LOGS" >&2; exit 2; }
export ROOT BUILD ARCH JOBS LOGS
START=$SECONDS
HAVE_GPU=0

NAMES=() STATUS=() SECS=() NOTES=()
record() { NAMES+=("$1"); STATUS+=("$2"); SECS+=("$3"); NOTES+=("$4"); }
skip_step() { echo; echo "=== $1: skipped ($2)"; record "$1" SKIP 0 "$2"; }

# run_step NAME CAP FUNCTION [ARGS...]: runs a function of this script in a child bash under
# `timeout` (cut to the budget left), output in $LOGS/NAME.log and on screen.
run_step() {
  local name="$1" cap="$2" left t0 rc log="$LOGS/$1.log"
  shift 2
  left=$((BUDGET - (SECONDS - START) - 10))  # keep 10 s for the summary
  if [ "$left" -lt 15 ]; then skip_step "$name" "time budget spent"; return 1; fi
  cap=$((cap * CAP_SCALE))
  [ "$cap" -gt "$left" ] && cap=$left
  echo; echo "=== $name (cap ${cap}s): $*"
  t0=$SECONDS
  timeout -k 5 "$cap" bash -c "$(declare -f); $(printf '%q ' "$@")" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then
    record "$name" PASS $((SECONDS - t0)) ""
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    record "$name" TIMEOUT $((SECONDS - t0)) "killed after ${cap}s, log $log"
  else
    record "$name" FAIL $((SECONDS - t0)) "exit $rc, log $log"
    echo "--- $name failed (exit $rc); last lines:"; tail -n 30 "$log"
  fi
  return "$rc"
}

# ---- environment: runs in this shell, since it exports what the later steps use.
TRIPLET="$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
CMAKE_PREFIXES=()

unpack_deb() {  # deb dir: dpkg -x, or ar + tar where dpkg is missing
  if command -v dpkg >/dev/null; then dpkg -x "$1" "$2"; return; fi
  local data
  data="$(ar t "$1" | grep '^data\.tar')" || return 1
  ar p "$1" "$data" | tar -x -C "$2" --auto-compress -f - 2>/dev/null ||
    ar p "$1" "$data" | tar -x -C "$2" -"$(case "$data" in *.xz) echo J ;; *.zst) echo -zstd ;; *) echo z ;; esac)" -f -
}

unpack_bundle() {
  local bundle="${CONTRASEG_DEPS_BUNDLE:-}"
  [ -z "$bundle" ] && [ -d "$ROOT/deps/gpu-bundle" ] && bundle="$ROOT/deps/gpu-bundle"
  [ -n "$bundle" ] || { echo "no package bundle (deps/gpu-bundle): using the system's packages"; return 0; }
  ls "$bundle"/*.deb >/dev/null 2>&1 || { echo "bundle $bundle holds no .deb"; return 1; }
  local dest="$BUILD/deps-root" deb n=0
  rm -rf "$dest"; mkdir -p "$dest"
  for deb in "$bundle"/*.deb; do unpack_deb "$deb" "$dest" || { echo "cannot unpack $deb"; return 1; }; n=$((n + 1)); done
  echo "unpacked $n packages from $bundle into $dest"
  CONTRASEG_DEPS_PREFIX="$dest${CONTRASEG_DEPS_PREFIX:+:$CONTRASEG_DEPS_PREFIX}"
}

setup_deps_prefix() {
  [ -n "${CONTRASEG_DEPS_PREFIX:-}" ] || return 0
  local pcdir="$BUILD/deps-pkgconfig" p pc lib
  mkdir -p "$pcdir"
  IFS=: read -r -a prefixes <<<"$CONTRASEG_DEPS_PREFIX"
  for p in "${prefixes[@]}"; do
    [ -n "$p" ] || continue
    p="$(cd "$p" 2>/dev/null && pwd)" || { echo "CONTRASEG_DEPS_PREFIX: '$p' is not a folder"; return 1; }
    echo "dependencies from $p"
    CMAKE_PREFIXES+=("$p/usr" "$p")
    export CPATH="$p/usr/include${CPATH:+:$CPATH}"
    [ -d "$p/usr/bin" ] && export PATH="$PATH:$p/usr/bin"  # pkg-config, after the system's tools
    # Library folders, including the variant folders of alternatives (openblas-pthread/): dpkg -x
    # runs no maintainer scripts, so the /etc/alternatives links it leaves point nowhere.
    while IFS= read -r lib; do
      export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
      export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done < <(find "$p/usr/lib" "$p/lib" -name '*.so*' \( -type f -o -type l \) -printf '%h\n' 2>/dev/null | sort -u)
    # .pc files name /usr: copy them with the prefix rewritten.
    while IFS= read -r pc; do
      [ -e "$pc" ] || continue
      [ -e "$pcdir/$(basename "$pc")" ] && continue
      sed -e "s|=/usr|=$p/usr|g" -e "s|-I/usr|-I$p/usr|g" -e "s|-L/usr|-L$p/usr|g" "$pc" >"$pcdir/$(basename "$pc")"
    done < <(find "$p" -name '*.pc' \( -type f -o -type l \) 2>/dev/null)
  done
  export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # pkgconf from the bundle looks for its own files under /usr: point it at the system's too.
  export PKG_CONFIG_PATH="$PKG_CONFIG_PATH:/usr/lib/$TRIPLET/pkgconfig:/usr/share/pkgconfig"
  echo "CMAKE_PREFIX_PATH += ${CMAKE_PREFIXES[*]}"
}

CUDNN_ARGS=()
setup_cudnn() {
  local root="${CUDNN_ROOT:-}" lib="" cand
  if [ -z "$root" ]; then
    [ -f /usr/local/cuda/include/cudnn.h ] && { echo "cuDNN from /usr/local/cuda"; return 0; }
    root="$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)"
    [ -n "$root" ] || { echo "no cuDNN found (set CUDNN_ROOT)"; return 1; }
  fi
  [ -f "$root/include/cudnn.h" ] || { echo "no $root/include/cudnn.h"; return 1; }
  for cand in "$root"/lib/libcudnn.so "$root"/lib64/libcudnn.so "$root"/lib/libcudnn.so.[0-9]* \
              "$root"/lib64/libcudnn.so.[0-9]*; do
    [ -e "$cand" ] && { lib="$cand"; break; }
  done
  [ -n "$lib" ] || { echo "no libcudnn.so under $root"; return 1; }
  echo "cuDNN from $root ($lib)"
  CUDNN_ARGS=(-DCUDNN_INCLUDE_DIR="$root/include" -DCUDNN_LIBRARY="$lib")
  export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"  # cuDNN 9 loads its engines from there
}

environment() {
  echo "repo: $ROOT; build: $BUILD (CUDA arch $ARCH, $JOBS jobs, budget ${BUDGET}s)"
  cmake --version | head -n 1 || return 1
  if timeout 20 nvidia-smi; then
    HAVE_GPU=1
    NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
    "$NVCC" --version || { echo "nvcc not found"; return 1; }
    setup_cudnn || return 1
  else
    echo "no working nvidia-smi: a rehearsal without a GPU (CPU-only build, GPU steps skipped)"
  fi
  unpack_bundle && setup_deps_prefix
}

# ---- steps that run under a cap (child shells: they see exported variables and these functions)
configure() {
  local args=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCONTRASEG_TESTS=ON -DCONTRASEG_BENCH=ON)
  command -v ninja >/dev/null && [ ! -f "$BUILD/Makefile" ] && args+=(-G Ninja)
  [ -n "$PREFIX_PATH" ] && args+=(-DCMAKE_PREFIX_PATH="$PREFIX_PATH")
  if [ "$HAVE_GPU" = 1 ]; then
    args+=(-DCONTRASEG_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_COMPILER="$NVCC" $CUDNN_FLAGS)
  else
    args+=(-DCONTRASEG_CUDA=OFF)
  fi
  cmake "${args[@]}" || return 1
  if [ "$HAVE_GPU" = 1 ] && ! grep -q '^CMAKE_CUDA_COMPILER:.*nvcc' "$BUILD/CMakeCache.txt"; then
    echo "configure: the CUDA backend would be left out (nvcc or cuDNN not found)"; return 1
  fi
}

build() { cmake --build "$BUILD" -j "$JOBS"; }

# The CUDA tests must run here: a skip means the process saw no device.
gpu_tests() {
  local out rc
  out="$(ctest --test-dir "$BUILD" -R Cuda --output-on-failure -j 4 --timeout 60 2>&1)"; rc=$?
  echo "$out"
  [ "$rc" -eq 0 ] || return "$rc"
  echo "$out" | grep -q "tests passed" || { echo "no Cuda test found"; return 1; }
  if echo "$out" | grep -q "Skipped"; then echo "gpu-tests: CUDA tests skipped on a GPU machine"; return 1; fi
}

bench() { "$BUILD/contraseg_bench" --benchmark_filter='UNetStep/cuda/batch:20/size:192' --benchmark_counters_tabular=true; }
peer() { python3 "$ROOT/bench/peer/unet_step.py" --device cuda --batch 20 --size 192; }
other_tests() { ctest --test-dir "$BUILD" -E Cuda --output-on-failure -j "$JOBS" --timeout 120; }

sanitizer() {  # tool [gtest filter]
  local cs
  cs="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
  [ -x "$cs" ] || { echo "compute-sanitizer not found"; return 1; }
  "$cs" --tool "$1" --error-exitcode 1 "$BUILD/test_ops" --gtest_color=no --gtest_filter="${2:-Cuda.*}"
}

# ---- the run
cd "$ROOT" || exit 2
echo "gpu-check: logs in $LOGS"
t0=$SECONDS
echo; echo "=== environment"
environment > >(tee "$LOGS/environment.log") 2>&1  # in this shell: its exports are kept
env_rc=$?
wait $! 2>/dev/null || true  # let tee finish the log
if [ "$env_rc" -eq 0 ]; then
  record environment PASS $((SECONDS - t0)) "$([ "$HAVE_GPU" = 1 ] || echo "no GPU: a rehearsal")"
  env_ok=1
else
  record environment FAIL $((SECONDS - t0)) "log $LOGS/environment.log"
  env_ok=0
fi
PREFIX_PATH="$(IFS=';'; echo "${CMAKE_PREFIXES[*]+"${CMAKE_PREFIXES[*]}"}")"
CUDNN_FLAGS="${CUDNN_ARGS[*]+"${CUDNN_ARGS[*]}"}"
export HAVE_GPU PREFIX_PATH CUDNN_FLAGS NVCC="${NVCC:-}"

gpu_only() { [ "$HAVE_GPU" = 1 ] || { skip_step "$1" "no GPU on this machine"; return 1; }; }
if [ "$env_ok" = 1 ] && run_step configure 90 configure && run_step build 240 build; then
  gpu_only gpu-tests && run_step gpu-tests 90 gpu_tests
  gpu_only bench && run_step bench 60 bench
  if ! gpu_only peer; then :
  elif ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    skip_step peer "python3 has no PyTorch with CUDA"
  else
    run_step peer 90 peer
  fi
  gpu_only memcheck && run_step memcheck 90 sanitizer memcheck
  gpu_only racecheck && run_step racecheck 60 sanitizer racecheck 'Cuda.BatchNorm*:Cuda.SumMean*:Cuda.ConvPartialGradients'
  run_step ctest 150 other_tests
else
  for s in configure build gpu-tests bench peer memcheck racecheck ctest; do
    printf '%s\n' "${NAMES[@]}" | grep -qx "$s" || skip_step "$s" "earlier step failed"
  done
fi

# ---- summary
summary="$LOGS/summary.txt"
{
  echo
  echo "gpu-check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $( [ "$HAVE_GPU" = 1 ] && nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || echo "no GPU"), $((SECONDS - START))s of ${BUDGET}s)"
  printf '%-12s %-7s %7s  %s\n' step status seconds note
  printf '%-12s %-7s %7s  %s\n' ------------ ------- ------- ----
  failed=0
  for i in "${!NAMES[@]}"; do
    printf '%-12s %-7s %7s  %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
    case "${STATUS[$i]}" in FAIL|TIMEOUT) failed=$((failed + 1)) ;; esac
  done
  if [ "$failed" -eq 0 ]; then echo "gpu-check: all steps passed or skipped"; else echo "gpu-check: $failed step(s) FAILED or TIMED OUT"; fi
} | tee "$summary"

if [ -n "${GPU_CHECK_OUT:-}" ]; then
  mkdir -p "$GPU_CHECK_OUT" && cp "$summary" "$GPU_CHECK_OUT/" &&
    tar -czf "$GPU_CHECK_OUT/gpu-check-logs.tar.gz" -C "$BUILD" gpu-check-logs
fi
grep -Eq ' (FAIL|TIMEOUT) ' "$summary" && exit 1
exit 0
