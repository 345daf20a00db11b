#!/usr/bin/env bash
# Fuzzes the NIfTI reader with libFuzzer + AddressSanitizer (clang).
#
#   scripts/fuzz-nifti.sh [SECONDS] [extra libFuzzer args...]     (default 600 s)
#
# Builds build-fuzz/nifti_fuzz from io/nifti.cpp and tests/fuzz/nifti_fuzz.cpp, seeds the corpus
# with the NIfTI fixtures (good and malformed), and runs. Crashing inputs land in
# build-fuzz/crashes/; turn each into a regression file under tests/fixtures/nifti/fuzz/ (the
# tests read every file there and expect either a volume or a std::exception).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_TO_RUN="${1:-600}"
shift || true
OUT="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${FUZZ_JOBS:-1}"

if ! command -v clang++ >/dev/null; then
  echo "clang++ not found: install it with 'sudo apt-get install clang'" >&2
  exit 1
fi
NIFTI_INC="$(dirname "$(find /usr/include /usr/local/include -name nifti2_io.h 2>/dev/null | head -n1)")"
if [ -z "$NIFTI_INC" ] || [ "$NIFTI_INC" = "." ]; then
  echo "nifti2_io.h not found: install libnifti2-dev" >&2
  exit 1
fi

mkdir -p "$OUT/corpus" "$OUT/crashes"
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT" -I"$NIFTI_INC" \
  "$ROOT/io/nifti.cpp" "$ROOT/tests/fuzz/nifti_fuzz.cpp" \
  -lnifti2 -lznz -lz -lm -o "$OUT/nifti_fuzz"

# seeds: every fixture (good ones teach the structure, malformed ones the error paths)
for f in "$ROOT"/tests/fixtures/nifti/*.nii "$ROOT"/tests/fixtures/nifti/*.nii.gz \
         "$ROOT"/tests/fixtures/nifti/fuzz/*; do
  [ -f "$f" ] && cp -f "$f" "$OUT/corpus/seed_$(basename "$f")"
done

echo "fuzzing for ${SECONDS_TO_RUN}s (corpus $OUT/corpus, crashes in $OUT/crashes)"
cd "$OUT"
exec ./nifti_fuzz -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -rss_limit_mb=2048 \
  -timeout=10 -jobs="$JOBS" -workers="$JOBS" -artifact_prefix="$OUT/crashes/" -print_final_stats=1 \
  "$@" "$OUT/corpus"
