#!/usr/bin/env bash
# Checks a demo table against what the method predicts, from its results.csv:
#   - G^D + L^R >= G^D only - 0.02, at every labelled-set size;
#   - both ahead of random init, at every size;
#   - in every row, two labelled volumes no worse than one (0.02 slack);
#   - no single fine-tuning run below 0.2 foreground Dice.
# Prints each check with its margin and exits 1 if one fails.
#
#   scripts/demo-rules.sh RUN [RUN...]     (RUN: the --out folder of contraseg demo or reproduce)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/demo-rules.sh RUN [RUN...]" >&2; exit 2; }
status=0
for run in "$@"; do
  csv=$run/results.csv
  [ -f "$csv" ] || { echo "demo-rules: $csv: no such file (run the demo to the end first)" >&2; exit 2; }
  echo "== $run"
  # results.csv: dataset,init,labeled,comb,foreground_mean_dice,dice_<class>...
  awk -F, '
    FNR == 1 { next }
    { sum[$2, $3] += $5; n[$2, $3]++; if (!($3 in sets)) { sets[$3] = 1; order[++k] = $3 }
      if (lowest == "" || $5 < lowest) { lowest = $5; where = $2 " " $3 " " $4 } }
    function mean(i, s) { return sum[i, s] / n[i, s] }
    function check(ok, text) { printf "%-5s %s\n", ok ? "ok" : "FAIL", text; if (!ok) failed = 1 }
    END {
      for (j = 1; j <= k; j++) {
        s = order[j]; g = mean("gd", s); gl = mean("gd+lr@l3", s); r = mean("random", s)
        check(gl >= g - 0.02, sprintf("%s: G + L %.3f >= G %.3f - 0.02 (margin %+.3f)", s, gl, g, gl - g + 0.02))
        check(g > r && gl > r, sprintf("%s: G %.3f and G + L %.3f ahead of random init %.3f (by %+.3f, %+.3f)",
                                       s, g, gl, r, g - r, gl - r))
      }
      if (("tr1" in sets) && ("tr2" in sets))
        for (i = 1; i <= 3; i++) {
          init = i == 1 ? "random" : i == 2 ? "gd" : "gd+lr@l3"
          a = mean(init, "tr1"); b = mean(init, "tr2")
          check(b >= a - 0.02, sprintf("%s: tr2 %.3f >= tr1 %.3f - 0.02 (margin %+.3f)", init, b, a, b - a + 0.02))
        }
      check(lowest >= 0.2, sprintf("lowest run %.3f (%s) >= 0.2", lowest, where))
      exit failed
    }' "$csv" || status=1
done
exit $status
