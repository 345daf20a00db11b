#!/usr/bin/env bash
# Everything that needs a GPU, in one call that ends with a summary, within a time budget (GPU time
# is scarce: run this first on a GPU machine). Steps, in order, each under a time cap:
#
#   environment  the package bundle (checked before anything else), GPU, nvcc, cuDNN; unpacks the
#                bundle (dpkg -x) into the build folder and re-points its absolute symlinks there
#   configure    CMake for sm_90 with CONTRASEG_REQUIRE_CUDA=ON: stops unless the CUDA backend
#                (nvcc and cuDNN) is built
#   build        only the test binaries that hold CUDA tests, and contraseg_bench
#   parity       every test with "Cuda" in its name outside tests/gpu/ (the op kernels against the
#                CPU); each must run: a skip fails the step
#   step-parity  tests/gpu/ (test_gpu): whole U-Net and stage steps, CUDA against CPU
#   memcheck     compute-sanitizer memcheck over the custom kernels (test_ops Cuda*), with cuDNN's
#                heuristic algorithm choice and the caching allocator bypassed, so that small
#                overruns are not hidden inside a cached block
#   racecheck    compute-sanitizer racecheck over the kernels that use shared memory
#   bench        the stage steps on the GPU (contraseg_bench 'Step/cuda'); a failed one fails
#   peer         the U-Net step in PyTorch (bench/peer/unet_step.py), fp32 and bf16, when python3
#                has CUDA torch
#   loads        without a GPU only (a rehearsal): the binaries start with the bundle's libraries
#                and their CUDA tests skip
#
# Status of each step: PASS, FAIL, TIMEOUT (killed at its cap), or NOT RUN with the reason. A step
# that did not run counts as a failure, except where GPU_CHECK_SKIP asked for it (the summary says
# so) or, without a GPU, the steps that need one: then the run is a rehearsal and exits 3.
# Exit status: 0 every step ran and passed; 1 a step failed, timed out or did not run; 2 no usable
# package bundle (said on the first line); 3 a rehearsal (no GPU) that reached the GPU steps.
#
# On the GPU machine (offline; the bundle made beforehand with scripts/gpu-bundle.sh and copied
# along explicitly, since git ignores deps/):
#   GPU_CHECK_OUT=$OUT bash scripts/gpu-check.sh
# Everything it writes lands in GPU_CHECK_OUT: summary.txt (rewritten after every step, so a kill
# leaves the steps so far), bench.txt (the benchmark and peer lines), and the per-step logs, written
# as they run under logs/ and packed into gpu-check-logs.tar.gz at the end.
#
# Environment (all optional):
#   CONTRASEG_DEPS_BUNDLE  folder of .deb files (default deps/gpu-bundle); "none": use the -dev
#                          packages installed on this machine
#   CUDNN_ROOT             a cuDNN with include/ and lib/ (else /usr/local/cuda, else the cuDNN
#                          that python3's PyTorch wheels carry)
#   CUDA_ARCH              CMAKE_CUDA_ARCHITECTURES (default 90)
#   BUILD_DIR              build folder (default <repo>/build-gpu)
#   JOBS                   parallel jobs (default: all cores)
#   GPU_CHECK_BUDGET       seconds for the whole check (default 540); each cap is cut to what is left
#   GPU_CHECK_CAP_SCALE    multiplies every step's cap (default 1; the caps are sized for 16 cores)
#   GPU_CHECK_SKIP         steps to leave out on purpose, e.g. "peer racecheck"
#   GPU_CHECK_OUT          the output folder (default <build>/gpu-check-out)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-gpu}"
ARCH="${CUDA_ARCH:-90}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
BUDGET="${GPU_CHECK_BUDGET:-540}"
CAP_SCALE="${GPU_CHECK_CAP_SCALE:-1}"
SKIP=" ${GPU_CHECK_SKIP:-} "
START=$SECONDS

# ---- the bundle, before anything else is done or created
bundle_check() {  # prints one line; sets BUNDLE ("" for none); returns 1 when it cannot be used
  BUNDLE="${CONTRASEG_DEPS_BUNDLE:-$ROOT/deps/gpu-bundle}"
  if [ "$BUNDLE" = none ]; then
    BUNDLE=""
    echo "gpu-check: no package bundle (CONTRASEG_DEPS_BUNDLE=none): building from this machine's installed -dev packages"
    return 0
  fi
  local fix="make it with 'scripts/gpu-bundle.sh' on a machine that reaches Debian's registry and copy the folder along with the tree explicitly (git ignores deps/), or set CONTRASEG_DEPS_BUNDLE=none to use installed -dev packages"
  if [ ! -d "$BUNDLE" ]; then
    echo "gpu-check: STOP: no package bundle at $BUNDLE: $fix"; return 1
  fi
  if [ ! -f "$BUNDLE/PACKAGES" ] || [ ! -f "$BUNDLE/SHA256SUMS" ]; then
    echo "gpu-check: STOP: the bundle $BUNDLE has no PACKAGES or SHA256SUMS (an old or partial copy): $fix"; return 1
  fi
  BUNDLE="$(cd "$BUNDLE" && pwd)"
  local bad missing=() name
  bad="$(cd "$BUNDLE" && sha256sum -c --quiet SHA256SUMS 2>&1 | grep -v '^sha256sum: WARNING' | head -n 5)"
  while IFS= read -r name; do
    ls "$BUNDLE/${name}_"*.deb >/dev/null 2>&1 || missing+=("$name")
  done <"$BUNDLE/PACKAGES"
  if [ -n "$bad" ] || [ ${#missing[@]} -gt 0 ]; then
    echo "gpu-check: STOP: the bundle $BUNDLE is incomplete:${missing[*]:+ missing ${missing[*]};}${bad:+ damaged: $(echo "$bad" | tr '\n' ' ')} $fix"
    return 1
  fi
  echo "gpu-check: bundle $BUNDLE complete: $(wc -l <"$BUNDLE/PACKAGES") packages, checksums match"
}
bundle_check || exit 2

OUT="${GPU_CHECK_OUT:-$BUILD/gpu-check-out}"
LOGS="$OUT/logs"
mkdir -p "$LOGS" "$BUILD" || { echo "gpu-check: cannot create $LOGS or $BUILD" >&2; exit 2; }
OUT="$(cd "$OUT" && pwd)" LOGS="$OUT/logs"
rm -f "$LOGS"/*.log "$OUT/summary.txt" "$OUT/bench.txt" "$OUT/gpu-check-logs.tar.gz"
export ROOT BUILD ARCH JOBS OUT LOGS
HAVE_GPU=0 GPU_NAME="no GPU"

NAMES=() STATUS=() SECS=() NOTES=()
summary() {  # the table so far, into $OUT/summary.txt; with "final", the verdict line too
  local i failed=0 nogpu=0 requested=() verdict
  {
    echo "gpu-check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $GPU_NAME, $((SECONDS - START))s of ${BUDGET}s)"
    printf '%-12s %-8s %7s  %s\n' step status seconds note
    printf '%-12s %-8s %7s  %s\n' ------------ -------- ------- ----
    for i in "${!NAMES[@]}"; do
      printf '%-12s %-8s %7s  %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
      case "${STATUS[$i]}:${NOTES[$i]}" in
        "NOT RUN:skipped on request"*) requested+=("${NAMES[$i]}") ;;
        "NOT RUN:no GPU"*) nogpu=$((nogpu + 1)) ;;
        PASS:*) ;;
        *) failed=$((failed + 1)) ;;
      esac
    done
    if [ "${1:-}" = final ]; then
      if [ "$failed" -gt 0 ]; then verdict="FAILED: $failed step(s) failed, timed out or did not run"
      elif [ "$nogpu" -gt 0 ]; then verdict="REHEARSAL: every step up to the GPU passed; $nogpu GPU step(s) did not run (no GPU)"
      else verdict="PASSED: every step ran and passed"; fi
      [ ${#requested[@]} -gt 0 ] && verdict+=" (left out on request: ${requested[*]})"
      echo "gpu-check: $verdict"
    fi
  } >"$OUT/summary.txt.part" && mv "$OUT/summary.txt.part" "$OUT/summary.txt"
  FAILED=$failed NOGPU=$nogpu
}
record() { NAMES+=("$1"); STATUS+=("$2"); SECS+=("$3"); NOTES+=("$4"); summary; }
not_run() { echo; echo "=== $1: not run ($2)"; record "$1" "NOT RUN" 0 "$2"; }

# run_step NAME CAP FUNCTION [ARGS...]: runs a function of this script in a child bash under
# `timeout` (cut to the budget left), its output on screen and in $LOGS/NAME.log as it comes.
run_step() {
  local name="$1" cap="$2" left t0 rc log="$LOGS/$1.log"
  shift 2
  case "$SKIP" in *" $name "*) not_run "$name" "skipped on request (GPU_CHECK_SKIP)"; return 1 ;; esac
  left=$((BUDGET - (SECONDS - START) - 10))  # keep 10 s for the summary and the tarball
  if [ "$left" -lt 15 ]; then not_run "$name" "time budget spent (GPU_CHECK_BUDGET=${BUDGET})"; return 1; fi
  cap=$((cap * CAP_SCALE))
  [ "$cap" -gt "$left" ] && cap=$left
  echo; echo "=== $name (cap ${cap}s): $*"
  t0=$SECONDS
  timeout -k 5 "$cap" bash -c "$(declare -f); $(printf '%q ' "$@")" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then
    record "$name" PASS $((SECONDS - t0)) ""
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    record "$name" TIMEOUT $((SECONDS - t0)) "killed after ${cap}s, log logs/$name.log"
  else
    record "$name" FAIL $((SECONDS - t0)) "exit $rc, log logs/$name.log"
    echo "--- $name failed (exit $rc); last lines:"; tail -n 30 "$log"
  fi
  return "$rc"
}

# ---- environment: runs in this shell, since it exports what the later steps use.
TRIPLET="$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
CMAKE_PREFIXES=()
ORIGINAL_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"

unpack_deb() {  # deb dir: dpkg -x, or ar + tar where dpkg is missing
  if command -v dpkg >/dev/null; then dpkg -x "$1" "$2"; return; fi
  local data
  data="$(ar t "$1" | grep '^data\.tar')" || return 1
  ar p "$1" "$data" | tar -x -C "$2" --auto-compress -f - 2>/dev/null ||
    ar p "$1" "$data" | tar -x -C "$2" -"$(case "$data" in *.xz) echo J ;; *.zst) echo -zstd ;; *) echo z ;; esac)" -f -
}

# Debian's packages hold absolute symlinks (libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) that
# point nowhere on a machine without those packages: re-point each into the unpack folder. A
# library or header link whose target the bundle lacks makes the bundle incomplete.
repoint_links() {  # dest
  local dest="$1" link target n=0 dangling=()
  while IFS= read -r link; do
    target="$(readlink "$link")"
    if [ -e "$dest$target" ]; then
      ln -sfn "$dest$target" "$link"; n=$((n + 1))
    else
      case "$link" in *.so|*.so.*|*/include/*) dangling+=("${link#"$dest"} -> $target") ;; esac
    fi
  done < <(find "$dest" -type l -lname '/*')
  echo "re-pointed $n absolute symlinks into $dest"
  if [ ${#dangling[@]} -gt 0 ]; then
    echo "the bundle is incomplete: these links point outside it (remake it with scripts/gpu-bundle.sh):"
    printf '  %s\n' "${dangling[@]}"
    return 1
  fi
}

unpack_bundle() {
  [ -n "$BUNDLE" ] || return 0
  local dest="$BUILD/deps-root" deb n=0
  rm -rf "$dest"; mkdir -p "$dest"
  for deb in "$BUNDLE"/*.deb; do unpack_deb "$deb" "$dest" || { echo "cannot unpack $deb"; return 1; }; n=$((n + 1)); done
  echo "unpacked $n packages from $BUNDLE into $dest"
  repoint_links "$dest" || return 1
  setup_deps_prefix "$dest"
}

setup_deps_prefix() {  # prefix: a folder holding packages unpacked with dpkg -x
  local p="$1" pcdir="$BUILD/deps-pkgconfig" pc lib
  rm -rf "$pcdir"; mkdir -p "$pcdir"
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
  # pkgconf from the bundle looks for its own files under /usr: point it at the system's too.
  export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}:/usr/lib/$TRIPLET/pkgconfig:/usr/share/pkgconfig"
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
  echo "repo: $ROOT; build: $BUILD (CUDA arch $ARCH, $JOBS jobs, budget ${BUDGET}s); output: $OUT"
  cmake --version | head -n 1 || return 1
  NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  "$NVCC" --version >/dev/null 2>&1 || { echo "nvcc not found (put the CUDA toolkit's bin/ on PATH)"; return 1; }
  "$NVCC" --version | tail -n 2
  setup_cudnn || return 1
  if timeout 20 nvidia-smi; then
    HAVE_GPU=1 GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
  else
    echo "no working nvidia-smi: a rehearsal without a GPU (the build as on a GPU machine, the GPU steps not run)"
  fi
  unpack_bundle
}

# ---- steps that run under a cap (child shells: they see exported variables and these functions)
configure() {
  # No ITK: the bundle leaves it out (scripts/install-deps.sh --list), and no CUDA test needs N4.
  local args=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCONTRASEG_TESTS=ON -DCONTRASEG_BENCH=ON
              -DCONTRASEG_CUDA=ON -DCONTRASEG_REQUIRE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH"
              -DCMAKE_CUDA_COMPILER="$NVCC" -DCONTRASEG_WITH_ITK=OFF)
  command -v ninja >/dev/null && [ ! -f "$BUILD/Makefile" ] && args+=(-G Ninja)
  [ -n "$PREFIX_PATH" ] && args+=(-DCMAKE_PREFIX_PATH="$PREFIX_PATH")
  # shellcheck disable=SC2086  # CUDNN_FLAGS: zero or two -D arguments without spaces
  cmake "${args[@]}" $CUDNN_FLAGS
}

# The test binaries that hold CUDA tests: the folders of tests/ whose sources name one (not the
# folders CMake makes no binary of).
gpu_test_binaries() {
  grep -l 'Cuda' "$ROOT"/tests/*/*.cpp | sed 's|.*/tests/\([^/]*\)/.*|\1|' |
    grep -vxE 'support|tools|fixtures|fuzz' | sed 's|^|test_|' | sort -u
}
build() {
  local targets
  targets="$(gpu_test_binaries | tr '\n' ' ') contraseg_bench"
  echo "targets: $targets"
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j "$JOBS" --target $targets
}

# run_gtests [--prefix CMD...] --binaries BIN... : every *Cuda* test of each binary; each must run
# (a skip means the process saw no device) and at least one must.
run_gtests() {
  local prefix=() bins=() filter='*Cuda*' b out n ran=0 rc=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --filter) filter="$2"; shift 2 ;;
      --) shift; prefix=("$@"); break ;;
      *) bins+=("$1"); shift ;;
    esac
  done
  for b in "${bins[@]}"; do
    echo "--- $b --gtest_filter=$filter"
    out="$LOGS/$b.$$.out"
    "${prefix[@]+"${prefix[@]}"}" "$BUILD/$b" --gtest_color=no --gtest_filter="$filter" 2>&1 | tee "$out"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    if grep -q '^\[  SKIPPED \]' "$out"; then echo "$b: CUDA tests skipped on a GPU machine"; rc=1; fi
    n="$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | head -n 1)"
    ran=$((ran + ${n:-0}))
    rm -f "$out"
  done
  [ "$ran" -gt 0 ] || { echo "no CUDA test ran"; rc=1; }
  echo "$ran CUDA tests passed"
  return "$rc"
}
parity() { run_gtests $(gpu_test_binaries | grep -vx test_gpu); }

# Without a GPU: every binary the GPU steps run starts with the bundle's libraries, and its CUDA
# tests skip (what they must not do on a GPU machine).
loads() {
  local b out rc=0
  for b in $(gpu_test_binaries); do
    out="$("$BUILD/$b" --gtest_color=no --gtest_filter='*Cuda*' 2>&1)" || { echo "$out"; echo "$b failed"; rc=1; continue; }
    echo "$b: $(echo "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p') CUDA tests skipped," \
      "$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p') passed without a device"
  done
  "$BUILD/contraseg_bench" --benchmark_list_tests=true >/dev/null && echo "contraseg_bench: starts" || rc=1
  return "$rc"
}
step_parity() { run_gtests test_gpu; }

# The custom kernels under compute-sanitizer: cuDNN's heuristic choice (a timed search over every
# algorithm is slow under the tool) and the caching allocator bypassed (CONTRASEG_CUDA_ALLOCATOR).
sanitizer() {  # tool filter
  local cs
  cs="$(command -v compute-sanitizer || echo "$(dirname "$NVCC")/compute-sanitizer")"
  [ -x "$cs" ] || { echo "compute-sanitizer not found"; return 1; }
  CONTRASEG_CONV_ALGO=heuristic CONTRASEG_CUDA_ALLOCATOR=direct \
    run_gtests --filter "$2" test_ops -- "$cs" --tool "$1" --error-exitcode 1
}
# memcheck: every row of the parity table but the large ones (the U-Net-scale convolutions, which
# are cuDNN's, and the many-row and many-pixel cases, slow under the tool: the same kernels run in
# the smaller rows); racecheck: the rows whose kernels use shared memory (similarity, reductions,
# segmentation losses), without the large ones.
LARGE_ROWS='CudaUNetShapes.*:*ManyRows*:*ManyPixels*'
MEMCHECK_FILTER="Cuda*:-$LARGE_ROWS"
RACECHECK_FILTER="CudaSimilarity.*:CudaLosses.*:Cuda.SumMean*:Cuda.Softmax*:Cuda.BatchNorm*:-$LARGE_ROWS"

bench() {
  "$BUILD/contraseg_bench" --benchmark_filter='Step/cuda' --benchmark_counters_tabular=true | tee -a "$OUT/bench.txt"
  return "${PIPESTATUS[0]}"
}
peer() {
  local rc=0
  # PyTorch with its own libraries: not the bundle's.
  export LD_LIBRARY_PATH="$ORIGINAL_LD_LIBRARY_PATH"
  python3 "$ROOT/bench/peer/unet_step.py" --device cuda --batch 20 --size 192 | tee -a "$OUT/bench.txt" || rc=1
  python3 "$ROOT/bench/peer/unet_step.py" --device cuda --batch 20 --size 192 --bf16 | tee -a "$OUT/bench.txt" || rc=1
  return "$rc"
}

# ---- the run
cd "$ROOT" || exit 2
echo "gpu-check: output in $OUT"
t0=$SECONDS
echo; echo "=== environment"
environment > >(tee "$LOGS/environment.log") 2>&1  # in this shell: its exports are kept
env_rc=$?
wait $! 2>/dev/null || true  # let tee finish the log
if [ "$env_rc" -eq 0 ]; then
  record environment PASS $((SECONDS - t0)) "$([ "$HAVE_GPU" = 1 ] || echo "no GPU: a rehearsal")"
else
  record environment FAIL $((SECONDS - t0)) "log logs/environment.log"
fi
PREFIX_PATH="$(IFS=';'; echo "${CMAKE_PREFIXES[*]+"${CMAKE_PREFIXES[*]}"}")"
CUDNN_FLAGS="${CUDNN_ARGS[*]+"${CUDNN_ARGS[*]}"}"
export HAVE_GPU PREFIX_PATH CUDNN_FLAGS NVCC="${NVCC:-}" ORIGINAL_LD_LIBRARY_PATH MEMCHECK_FILTER RACECHECK_FILTER

GPU_STEPS=(parity step-parity memcheck racecheck bench peer)
if [ "$env_rc" -eq 0 ] && run_step configure 90 configure && run_step build 300 build; then
  if [ "$HAVE_GPU" = 1 ]; then
    run_step parity 120 parity
    run_step step-parity 120 step_parity
    run_step memcheck 120 sanitizer memcheck "$MEMCHECK_FILTER"
    run_step racecheck 90 sanitizer racecheck "$RACECHECK_FILTER"
    run_step bench 90 bench
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
      run_step peer 90 peer
    else
      not_run peer "python3 has no PyTorch with CUDA (GPU_CHECK_SKIP=peer leaves it out)"
    fi
  else
    run_step loads 60 loads
    for s in "${GPU_STEPS[@]}"; do not_run "$s" "no GPU on this machine"; done
  fi
else
  for s in configure build "${GPU_STEPS[@]}"; do
    printf '%s\n' "${NAMES[@]}" | grep -qx "$s" || not_run "$s" "an earlier step failed"
  done
fi

summary final
echo; cat "$OUT/summary.txt"
tar -czf "$OUT/gpu-check-logs.tar.gz" -C "$OUT" logs && rm -rf "$LOGS"
if [ "$FAILED" -gt 0 ]; then exit 1; fi
if [ "$NOGPU" -gt 0 ]; then exit 3; fi
exit 0
