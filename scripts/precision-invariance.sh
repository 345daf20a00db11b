#!/usr/bin/env bash
# The demo's table in fp32 and in bf16 on this machine, cell by cell: runs `contraseg demo` twice
# on the same data (the phantom it synthesises, or --data DIR) and prints, per initialisation and
# labelled set, both means and their difference next to the spread over the combinations.
#
#   scripts/precision-invariance.sh [CONTRASEG] [OUT_DIR] [-- demo options...]
#   (defaults: build/contraseg runs/precision-invariance)
#
# On a CPU without AVX512-BF16 or AMX bf16 is emulated (bf16 numerics, fp32 speed or slower);
# the comparison of the numerics holds on any machine.
set -euo pipefail
bin=${1:-build/contraseg}
out=${2:-runs/precision-invariance}
shift $(( $# >= 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
[ -x "$bin" ] || { echo "precision-invariance: $bin is not an executable (build it first)" >&2; exit 1; }

for p in fp32 bf16; do
  echo "== contraseg demo, precision $p -> $out/$p"
  "$bin" demo --out "$out/$p" --set precision=$p "$@"
done

# results.csv: dataset,init,labeled,comb,foreground_mean_dice,dice_<class>...
awk -F, '
  FNR == 1 { file++; next }
  { key = $2 " | " $3; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    d[file, key, $4] = $5; sum[file, key] += $5; sq[file, key] += $5 * $5; cnt[file, key]++; combs[key, $4] = 1 }
  END {
    print "| initialisation | set | fp32 | bf16 | bf16 - fp32 | sd over combinations (fp32) | largest difference of one run |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
      k = order[i]; m1 = sum[1, k] / cnt[1, k]; m2 = sum[2, k] / cnt[2, k]
      sd = cnt[1, k] > 1 ? sqrt((sq[1, k] - cnt[1, k] * m1 * m1) / (cnt[1, k] - 1)) : 0
      worst = 0
      for (ck in combs) { split(ck, p, SUBSEP); if (p[1] != k) continue
        x = d[1, k, p[2]] - d[2, k, p[2]]; if (x < 0) x = -x; if (x > worst) worst = x }
      printf "| %s | %.3f | %.3f | %+.3f | %.3f | %.3f |\n", k, m1, m2, m2 - m1, sd, worst
    }
  }' "$out/fp32/results.csv" "$out/bf16/results.csv"
