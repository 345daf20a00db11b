#!/usr/bin/env bash
# Everything that needs a GPU, in one run (GPU time is scarce: run this first on a GPU machine).
#
#   configure + build for the GPU (build-gpu/, CMAKE_CUDA_ARCHITECTURES=90 by default)
#   the CUDA parity tests (they must run, not skip), then every test binary through ctest
#   compute-sanitizer memcheck over the CUDA tests, racecheck over the kernels with shared memory
#   the step benchmarks (CUDA and CPU) if contraseg_bench was built, the PyTorch peer if present
# and ends with one table: step, status, seconds. Exits non-zero if any step failed.
#
# Works offline. Environment (all optional):
#   CONTRASEG_DEPS_PREFIX  ':'-separated folders holding Debian packages unpacked with
#                          `dpkg -x pkg.deb DIR` (for machines lacking the -dev packages): their
#                          usr/ trees are given to CMake, the compiler, pkg-config and the loader.
#   CUDNN_ROOT             a cuDNN with include/ and lib/ (else /usr/local/cuda, else the cuDNN
#                          that python3's PyTorch wheels carry, if any)
#   CUDA_ARCH              CMAKE_CUDA_ARCHITECTURES (default 90)
#   BUILD_DIR              build folder (default <repo>/build-gpu)
#   JOBS                   parallel jobs (default: all cores)
#   BENCH_FILTER           --benchmark_filter for contraseg_bench (default: the step benchmarks)
#   SANITIZER_TIMEOUT      seconds per compute-sanitizer run (default 300)
#   GPU_CHECK_OUT          if set, a folder that receives the summary and a tarball of the logs
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-gpu}"
ARCH="${CUDA_ARCH:-90}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
BENCH_FILTER="${BENCH_FILTER:-[Ss]tep}"
SANITIZER_TIMEOUT="${SANITIZER_TIMEOUT:-300}"
LOGS="$BUILD/gpu-check-logs"
mkdir -p "$LOGS" || { echo "gpu-check: cannot create $LOGS" >&2; exit 2; }

NAMES=()
STATUS=()
SECS=()
NOTES=()

record() {  # name status seconds note
  NAMES+=("$1"); STATUS+=("$2"); SECS+=("$3"); NOTES+=("$4")
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# run_step NAME COMMAND...: runs the command with its output in $LOGS/NAME.log (and on screen),
# records PASS or FAIL, and on failure repeats the end of the log. The command runs in this
# shell (not in a pipeline's subshell), so the set-up steps can export variables.
run_step() {
  local name="$1"; shift
  local log="$LOGS/$name.log" t0 rc
  echo
  echo "=== $name: $*"
  t0="$(now)"
  "$@" > >(tee "$log") 2>&1
  rc=$?
  wait $! 2>/dev/null || true  # let tee finish writing the log
  if [ "$rc" -eq 0 ]; then
    record "$name" PASS "$(elapsed "$t0")" ""
  else
    record "$name" FAIL "$(elapsed "$t0")" "exit $rc, log $log"
    echo "--- $name failed (exit $rc); last lines of $log:"
    tail -n 40 "$log"
  fi
  return "$rc"
}

skip_step() {  # name reason
  echo
  echo "=== $1: skipped ($2)"
  record "$1" SKIP 0.0 "$2"
}

# ---- dependencies from unpacked Debian packages
TRIPLET="$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
CMAKE_PREFIXES=()
setup_deps_prefix() {
  [ -n "${CONTRASEG_DEPS_PREFIX:-}" ] || { echo "no CONTRASEG_DEPS_PREFIX: using the system's packages"; return 0; }
  local pcdir="$BUILD/deps-pkgconfig" p pc
  mkdir -p "$pcdir"
  IFS=: read -r -a prefixes <<<"$CONTRASEG_DEPS_PREFIX"
  for p in "${prefixes[@]}"; do
    [ -n "$p" ] || continue
    p="$(cd "$p" 2>/dev/null && pwd)" || { echo "CONTRASEG_DEPS_PREFIX: '$p' is not a folder"; return 1; }
    echo "dependencies from $p"
    CMAKE_PREFIXES+=("$p/usr" "$p")
    export CPATH="$p/usr/include${CPATH:+:$CPATH}"
    local lib
    for lib in "$p/usr/lib/$TRIPLET" "$p/lib/$TRIPLET" "$p/usr/lib"; do
      [ -d "$lib" ] || continue
      export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
      export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
    # .pc files name /usr: copy them with the prefix rewritten (alternatives symlinks that
    # dpkg -x leaves dangling are skipped; the variant folders such as openblas-pthread/ hold
    # the real files).
    while IFS= read -r pc; do
      [ -e "$pc" ] || continue
      [ -e "$pcdir/$(basename "$pc")" ] && continue
      sed -e "s|=/usr|=$p/usr|g" -e "s|-I/usr|-I$p/usr|g" -e "s|-L/usr|-L$p/usr|g" "$pc" >"$pcdir/$(basename "$pc")"
    done < <(find "$p" -name '*.pc' \( -type f -o -type l \) 2>/dev/null)
  done
  export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  echo "CMAKE_PREFIX_PATH += ${CMAKE_PREFIXES[*]}"
  echo "PKG_CONFIG_PATH = $PKG_CONFIG_PATH"
}

# ---- cuDNN: CUDNN_ROOT, else the toolkit's, else the one in PyTorch's wheels.
CUDNN_ARGS=()
setup_cudnn() {
  local root="${CUDNN_ROOT:-}" lib
  if [ -z "$root" ]; then
    if [ -f /usr/local/cuda/include/cudnn.h ]; then
      echo "cuDNN from /usr/local/cuda"
      return 0
    fi
    root="$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)"
    [ -n "$root" ] || { echo "no cuDNN found (set CUDNN_ROOT)"; return 1; }
  fi
  [ -f "$root/include/cudnn.h" ] || { echo "no $root/include/cudnn.h"; return 1; }
  lib=""
  local cand
  for cand in "$root"/lib/libcudnn.so "$root"/lib64/libcudnn.so "$root"/lib/libcudnn.so.[0-9]* \
              "$root"/lib64/libcudnn.so.[0-9]*; do
    [ -e "$cand" ] && { lib="$cand"; break; }
  done
  [ -n "$lib" ] || { echo "no libcudnn.so under $root"; return 1; }
  echo "cuDNN from $root ($lib)"
  CUDNN_ARGS=(-DCUDNN_INCLUDE_DIR="$root/include" -DCUDNN_LIBRARY="$lib")
  # cuDNN 9 loads its engine libraries from its own folder at run time.
  local libdir
  libdir="$(dirname "$lib")"
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

environment() {
  echo "repo: $ROOT"
  echo "build: $BUILD (CUDA arch $ARCH, $JOBS jobs)"
  nvidia-smi || return 1
  command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ] || { echo "nvcc not found"; return 1; }
  "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" --version
  cmake --version | head -n 1
  setup_deps_prefix || return 1
  setup_cudnn || return 1
}

configure() {
  local nvcc prefix_path="" p bench="${1:-ON}"
  nvcc="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  for p in "${CMAKE_PREFIXES[@]+"${CMAKE_PREFIXES[@]}"}"; do prefix_path="${prefix_path:+$prefix_path;}$p"; done
  local args=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCONTRASEG_CUDA=ON -DCONTRASEG_TESTS=ON
              -DCONTRASEG_BENCH="$bench" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_COMPILER="$nvcc")
  [ -n "$prefix_path" ] && args+=(-DCMAKE_PREFIX_PATH="$prefix_path")
  args+=("${CUDNN_ARGS[@]+"${CUDNN_ARGS[@]}"}")
  cmake "${args[@]}" || return 1
  # A build without the CUDA backend would pass every test by skipping the GPU ones.
  if ! grep -q '^CMAKE_CUDA_COMPILER:.*nvcc' "$BUILD/CMakeCache.txt" ||
     ! grep '^CUDNN_LIBRARY:' "$BUILD/CMakeCache.txt" | grep -v NOTFOUND | grep -q cudnn ||
     ! grep '^CUDNN_INCLUDE_DIR:' "$BUILD/CMakeCache.txt" | grep -vq NOTFOUND; then
    echo "configure: nvcc or cuDNN not found, the CUDA backend would be left out"
    return 1
  fi
}

# The CUDA tests must run on this machine: a skip here means no device was visible.
gpu_tests() {
  local bin="$BUILD/test_cuda" out
  [ -x "$bin" ] || { echo "no $bin"; return 1; }
  out="$("$bin" --gtest_color=no 2>&1)"
  local rc=$?
  echo "$out"
  [ "$rc" -eq 0 ] || return "$rc"
  if echo "$out" | grep -q '^\[  SKIPPED \]'; then
    echo "gpu-tests: tests were skipped on a GPU machine (no device visible to the process?)"
    return 1
  fi
}

sanitizer() {  # tool [gtest filter]
  local cs
  cs="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
  [ -x "$cs" ] || { echo "compute-sanitizer not found"; return 1; }
  local filter="${2:-*}"
  timeout "$SANITIZER_TIMEOUT" "$cs" --tool "$1" --error-exitcode 1 "$BUILD/test_cuda" \
    --gtest_color=no --gtest_filter="$filter"
}

benchmarks() {
  "$BUILD/contraseg_bench" --benchmark_filter="$BENCH_FILTER" --benchmark_counters_tabular=true
}

peer() {
  python3 "$ROOT/bench/peer/unet_step.py" --device cuda
}

# ---- the run
cd "$ROOT" || exit 2
echo "gpu-check: logs in $LOGS"

if run_step environment environment; then
  bench_flag=ON
  if ! run_step configure configure ON; then
    # Google Benchmark may be missing on this machine: the rest does not need it.
    echo "configure with benchmarks failed; retrying without them"
    bench_flag=OFF
    unset 'NAMES[-1]' 'STATUS[-1]' 'SECS[-1]' 'NOTES[-1]'
    run_step configure configure OFF
  fi
  configured=$?
else
  configured=1
fi

if [ "$configured" -eq 0 ] && run_step build cmake --build "$BUILD" -j "$JOBS"; then
  [ -x "$BUILD/contraseg" ] && run_step info "$BUILD/contraseg" info
  run_step gpu-tests gpu_tests
  run_step ctest ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 1200
  run_step memcheck sanitizer memcheck
  run_step racecheck sanitizer racecheck 'Cuda.BatchNorm*:Cuda.SumMean*:Cuda.ConvPartialGradients'
  if [ -x "$BUILD/contraseg_bench" ]; then
    run_step bench benchmarks
  elif [ "${bench_flag:-OFF}" = OFF ]; then
    skip_step bench "Google Benchmark not found at configure time"
  else
    skip_step bench "no bench/*.cpp, so no contraseg_bench"
  fi
else
  for s in build info gpu-tests ctest memcheck racecheck bench; do skip_step "$s" "earlier step failed"; done
fi

if [ ! -f "$ROOT/bench/peer/unet_step.py" ]; then
  skip_step peer "no bench/peer/unet_step.py"
elif ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  skip_step peer "python3 has no PyTorch with CUDA"
else
  run_step peer peer
fi

# ---- summary
summary="$LOGS/summary.txt"
{
  echo
  echo "gpu-check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1))"
  printf '%-12s %-6s %9s  %s\n' step status seconds note
  printf '%-12s %-6s %9s  %s\n' ------------ ------ --------- ----
  failed=0
  for i in "${!NAMES[@]}"; do
    printf '%-12s %-6s %9s  %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
    [ "${STATUS[$i]}" = FAIL ] && failed=$((failed + 1))
  done
  if [ "$failed" -eq 0 ]; then echo "gpu-check: all steps passed or skipped"; else echo "gpu-check: $failed step(s) FAILED"; fi
} | tee "$summary"

if [ -n "${GPU_CHECK_OUT:-}" ]; then
  mkdir -p "$GPU_CHECK_OUT" && cp "$summary" "$GPU_CHECK_OUT/" &&
    tar -czf "$GPU_CHECK_OUT/gpu-check-logs.tar.gz" -C "$BUILD" gpu-check-logs
fi

grep -q ' FAIL ' "$summary" && exit 1
exit 0
