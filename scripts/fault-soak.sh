#!/usr/bin/env bash
# Kills a small fine-tuning run with SIGKILL at random moments and checks that every resumed run
# ends byte-identical to an uninterrupted one (final and best checkpoints, per-case metrics).
# As root it also runs into a tiny tmpfs that fills up: the run must stop with a clear error,
# and the last good checkpoint must still resume.
#
#   scripts/fault-soak.sh [KILLS] [SEED]        (default 20 kills, seed 1; a few minutes on 2 cores)
#
# Environment: CONTRASEG (default build/contraseg), KEEP=1 keeps the work folder.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${CONTRASEG:-$ROOT/build/contraseg}"
KILLS="${1:-20}"
RANDOM="${2:-1}"
[ -x "$BIN" ] || { echo "fault-soak: no $BIN (build first: cmake --build build --target contraseg)" >&2; exit 2; }
W="$(mktemp -d /tmp/contraseg-soak.XXXXXX)"
cleanup() {
  mountpoint -q "$W/full" 2>/dev/null && umount "$W/full"
  [ "${KEEP:-0}" = 1 ] && echo "work folder kept: $W" || rm -rf "$W"
}
trap cleanup EXIT

"$BIN" synth --out "$W/data" --patients 8 >/dev/null || exit 2
cat >"$W/soak.json" <<'EOF'
{"dataset": "acdc", "image_size": 32, "target_res": 8.0, "threads": 1, "log_every": 5, "checkpoint_every": 3,
 "finetune": {"iterations": 60, "batch": 4, "val_every": 10}}
EOF
train() { "$BIN" finetune --config "$W/soak.json" --data "$W/data" --quiet --out "$@"; }
same_run() {  # reference candidate: the files a resumed run must reproduce exactly
  cmp -s "$1/checkpoints/final.safetensors" "$2/checkpoints/final.safetensors" &&
    cmp -s "$1/checkpoints/best.safetensors" "$2/checkpoints/best.safetensors" &&
    cmp -s "$1/eval/metrics_per_case.csv" "$2/eval/metrics_per_case.csv"
}

SECONDS=0
train "$W/ref" >/dev/null 2>&1 || { echo "fault-soak: the uninterrupted run failed" >&2; exit 2; }
ref_ms=$((SECONDS * 1000 + 1000))
echo "fault-soak: uninterrupted run ${SECONDS}s; $KILLS runs killed at random moments in [0, ${ref_ms} ms]"

identical=0 in_write=0
for i in $(seq 1 "$KILLS"); do
  run="$W/run$i"
  delay_ms=$(((RANDOM * 32768 + RANDOM) % ref_ms))
  "$BIN" finetune --config "$W/soak.json" --data "$W/data" --quiet --out "$run" >/dev/null 2>&1 &
  pid=$!  # the command itself (a function would put a subshell in between)
  sleep "$(awk -v m="$delay_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  # a checkpoint or output being written right now (temp files of the atomic writers)
  writing=$(ls "$run"/checkpoints/*.tmp.* "$run"/*.tmp.* "$run"/eval.partial 2>/dev/null | head -n 1)
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ -n "$writing" ] && in_write=$((in_write + 1))
  resume=--resume
  [ -f "$run/config.json" ] || resume=  # killed before its run started: --resume would refuse the folder
  if ! train "$run" $resume >"$W/resume$i.log" 2>&1; then
    echo "  kill $i at ${delay_ms} ms: resume FAILED"; tail -n 5 "$W/resume$i.log"; continue
  fi
  if same_run "$W/ref" "$run"; then
    identical=$((identical + 1))
    printf '  kill %2d at %5d ms%s: identical\n' "$i" "$delay_ms" "$([ -n "$writing" ] && echo ' (during a write)')"
  else
    printf '  kill %2d at %5d ms: DIFFERENT from the uninterrupted run\n' "$i" "$delay_ms"
  fi
done
echo "fault-soak: $identical/$KILLS resumed runs byte-identical to the uninterrupted one ($in_write kills during a write)"
status=$([ "$identical" -eq "$KILLS" ] && echo 0 || echo 1)

if [ "$(id -u)" -eq 0 ]; then
  # 40 MB holds one full checkpoint (weights + Adam state, about 25 MB) but not a second one.
  mkdir -p "$W/full"
  if mount -t tmpfs -o size=40m tmpfs "$W/full"; then
    out="$W/full/run"
    train "$out" >"$W/full.log" 2>&1
    rc=$?
    msg=$(grep -m 1 "error" "$W/full.log")
    echo "fault-soak: full disk: exit $rc: $msg"
    cp -a "$out" "$W/rescued" && rm -f "$W/rescued/run.lock"
    if [ "$rc" -ne 0 ] && echo "$msg" | grep -q "No space left on device" && train "$W/rescued" --resume >"$W/rescued.log" 2>&1 &&
       grep -q "resumed finetune at step" "$W/rescued/log.txt" && same_run "$W/ref" "$W/rescued"; then
      echo "fault-soak: full disk: clear error; the last good checkpoint resumed to the same final weights"
    else
      echo "fault-soak: full disk: FAILED (see $W/full.log, $W/rescued.log)"; status=1
    fi
  else
    echo "fault-soak: full disk: skipped (cannot mount a tmpfs)"
  fi
else
  echo "fault-soak: full disk: skipped (needs root to mount a tmpfs)"
fi
exit "$status"
