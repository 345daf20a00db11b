#!/usr/bin/env bash
# Copies the pictures docs/tutorial.md shows from a finished demo run into docs/img/demo/, so the
# tutorial can be regenerated from any machine's own `contraseg demo` (then update the numbers the
# tutorial quotes from the same run's logs and results.md).
#
#   scripts/tutorial-pictures.sh [RUN_DIR] [SET_COMB] [CASE]   (defaults: runs/demo tr1_c2 008)
set -euo pipefail
run=${1:-runs/demo}
pick=${2:-tr1_c2}
case_id=${3:-008}
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/docs/img/demo"

die() { echo "tutorial-pictures: $*" >&2; exit 1; }
compgen -G "$run/results*.md" >/dev/null ||
  die "$run has no results table: run \`contraseg demo --out $run\` to the end first"

# The last step's picture of a stage: the highest N of prefix_stepN.png.
last_step() {
  local found
  found=$(ls "$1" 2>/dev/null | sed -n "s/^$2_step\([0-9]*\)\.png$/\1/p" | sort -n | tail -1 || true)
  [ -n "$found" ] || die "$1 has no $2_stepN.png (the demo config sets global.knn_every and local.retrieval_every)"
  echo "$found"
}

mkdir -p "$dest"
g="$run/pretrain/gd/pictures" l="$run/pretrain/gd+lr@l3/pictures"
gend=$(last_step "$g" embeddings) lend=$(last_step "$l" similarity_maps)
for what in embeddings similarity; do
  cp "$g/${what}_step0.png" "$dest/global_${what}_before.png"
  cp "$g/${what}_step${gend}.png" "$dest/global_${what}_after.png"
done
cp "$l/similarity_maps_step0.png" "$dest/local_similarity_maps_before.png"
cp "$l/similarity_maps_step${lend}.png" "$dest/local_similarity_maps_after.png"
# The default table's validation curves (a preset's are in pictures/PRESET/).
if [ -f "$run/pictures/validation_${pick}.png" ]; then
  cp "$run/pictures/validation_${pick}.png" "$dest/validation_${pick}.png"
else
  echo "tutorial-pictures: $run has no default table (contraseg demo without --table): validation_${pick}.png left as it was" >&2
fi
# The overlay of one test case, for each initialisation.
overlay=$(ls "$run/finetune/random/$pick/eval/pictures" | grep -m1 "^${case_id}_slice[0-9]*\.png$") ||
  die "$run/finetune/random/$pick/eval/pictures has no overlay of case $case_id"
for row in random:random gd:global gd+lr@l3:global_local; do
  cp "$run/finetune/${row%%:*}/$pick/eval/pictures/$overlay" "$dest/overlay_${row#*:}_${pick}.png"
done
# Each pretext task's input, target and output before and after, when the comparison table ran
# into the same folder (contraseg demo --table paper-comparison).
for task in rotation restoration inpainting; do
  p="$run/pretrain/$task/pictures"
  [ -d "$p" ] || continue
  pend=$(last_step "$p" pretext)
  cp "$p/pretext_step0.png" "$dest/pretext_${task}_before.png"
  cp "$p/pretext_step${pend}.png" "$dest/pretext_${task}_after.png"
done
echo "tutorial-pictures: $(ls "$dest" | wc -l) pictures from $run -> $dest"
