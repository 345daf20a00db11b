#!/usr/bin/env bash
# contraseg's U-Net training step against its PyTorch twin, fp32 and bf16, side by side in one
# run: PASSES alternating passes of (contraseg fp32 + bf16, PyTorch fp32, PyTorch bf16 autocast),
# then one table with every pass, the medians and the ratios, headed by the machine.
#
#   bench/peer/compare.sh [BENCH] [PYTHON]      (defaults: build/contraseg_bench, python3)
#   PASSES=2 THREADS=2 SIZE=192                  (environment, defaults shown)
#
# Developer tool: PYTHON must have PyTorch (never needed to build, run or test contraseg).
set -euo pipefail
bench=${1:-build/contraseg_bench}
python=${2:-python3}
passes=${PASSES:-2}
threads=${THREADS:-2}
size=${SIZE:-192}
peer="$(dirname "$0")/unet_step.py"
[ -x "$bench" ] || { echo "compare: $bench is not an executable (build with -DCONTRASEG_BENCH=ON)" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null || { echo "compare: $python has no PyTorch (pip install torch in a venv)" >&2; exit 1; }

lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for pass in $(seq "$passes"); do
  echo "compare: pass $pass of $passes" >&2
  OMP_NUM_THREADS=$threads "$bench" --benchmark_filter="UNetStep/cpu/batch:20/size:$size/" 2>/dev/null |
    grep '^unet_step peer=contraseg' | sed "s/^/$pass /" >> "$lines"
  for flag in "" --bf16; do
    "$python" "$peer" --threads "$threads" --size "$size" $flag | grep '^unet_step' | sed "s/^/$pass /" >> "$lines"
  done
done

model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
family=$(lscpu | sed -n 's/^CPU family: *//p' | head -1)
cpu_model=$(lscpu | sed -n 's/^Model: *//p' | head -1)
flags=$(grep -o -w -E 'avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "machine: $model (family $family model $cpu_model), $(nproc) CPUs; bf16-related flags: ${flags:-none}"
echo "step: $threads threads, batch 20, ${size}x${size}, forward + Dice + backward + Adam; $passes passes, alternating"
echo
# lines: PASS unet_step peer=NAME ... precision=P [isa=I] [bf16=B] ms/step=T images/s=R
awk '
  { pass = $1; peer = ""; prec = ""; ms = ""; extra = ""
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "peer") peer = kv[2]
      else if (kv[1] == "precision") prec = kv[2]
      else if (kv[1] == "ms/step") ms = kv[2]
      else if (kv[1] == "isa" || kv[1] == "bf16") extra = extra " " $i
    }
    name = (peer == "contraseg" ? "contraseg" : "PyTorch") " " prec
    if (!(name in seen)) { seen[name] = 1; order[++n] = name; label[name] = peer extra }
    t[name, ++count[name]] = ms
  }
  function median(name,   k, m, a, i, j, x) {
    m = count[name]
    for (i = 1; i <= m; i++) a[i] = t[name, i]
    for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "| step | what ran | ms/step, each pass | median ms/step | images/s (median) |\n|---|---|---|---|---|\n"
    for (k = 1; k <= n; k++) {
      name = order[k]; passes = ""
      for (i = 1; i <= count[name]; i++) passes = passes (i > 1 ? ", " : "") sprintf("%.0f", t[name, i])
      med[name] = median(name)
      printf "| %s | %s | %s | %.0f | %.1f |\n", name, label[name], passes, med[name], 20000 / med[name]
    }
    print ""
    for (k = 1; k <= n; k++) {
      name = order[k]; split(name, w, " ")
      if (w[1] != "contraseg" || !(("PyTorch " w[2]) in med)) continue
      printf "contraseg %s is %.2fx PyTorch %s (median against median)\n", w[2], med["PyTorch " w[2]] / med[name], w[2]
    }
  }' "$lines"
