#!/usr/bin/env bash
# Fuzzes one reader with libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer (clang).
#
#   scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer args...]     (default 600 s)
#
#   TARGET       fuzzes                                        build folder
#   nifti        the NIfTI reader (io/formats/nifti.cpp)               build-fuzz/
#   safetensors  nn/safetensors.cpp and load_checkpoint        build-fuzz-safetensors/
#   config       Config::load_json / load_file (experiments/)  build-fuzz-config/
#
# Builds <build folder>/<TARGET>_fuzz from tests/fuzz/<TARGET>_fuzz.cpp and the sources it needs,
# seeds the corpus (the target's fixtures, good and malformed, and its regression inputs), and
# runs. Crashing inputs land in <build folder>/crashes/; turn each into a regression file under
# tests/fixtures/<TARGET>/fuzz/ (the tests read every file there and expect success or a
# std::exception). FUZZ_BUILD_DIR overrides the folder, FUZZ_JOBS runs parallel jobs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
usage() { echo "usage: $0 nifti|safetensors|config [SECONDS] [libFuzzer args...]" >&2; exit 2; }
TARGET="${1:-}"
case "$TARGET" in nifti | safetensors | config) ;; *) usage ;; esac
shift
SECONDS_TO_RUN="${1:-600}"
shift || true
if [ "$TARGET" = nifti ]; then DEFAULT_OUT="$ROOT/build-fuzz"; else DEFAULT_OUT="$ROOT/build-fuzz-$TARGET"; fi
OUT="${FUZZ_BUILD_DIR:-$DEFAULT_OUT}"
JOBS="${FUZZ_JOBS:-1}"
REGRESSION="$ROOT/tests/fixtures/$TARGET/fuzz"

if ! command -v clang++ >/dev/null; then
  echo "clang++ not found: install it with 'sudo apt-get install clang'" >&2
  exit 1
fi
mkdir -p "$OUT/corpus" "$OUT/crashes"
CXX=(clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$ROOT")

seed() {  # copies existing files into the corpus
  for f in "$@"; do
    [ -f "$f" ] && cp -f "$f" "$OUT/corpus/seed_$(basename "$f")"
  done
  return 0
}

build_nifti() {
  NIFTI_INC="$(dirname "$(find /usr/include /usr/local/include -name nifti2_io.h 2>/dev/null | head -n1)")"
  if [ -z "$NIFTI_INC" ] || [ "$NIFTI_INC" = "." ]; then
    echo "nifti2_io.h not found: install libnifti2-dev" >&2
    exit 1
  fi
  "${CXX[@]}" -I"$NIFTI_INC" "$ROOT/io/formats/nifti.cpp" "$ROOT/tests/fuzz/nifti_fuzz.cpp" \
    -lnifti2 -lznz -lz -lm -o "$OUT/nifti_fuzz"
  seed "$ROOT"/tests/fixtures/nifti/*.nii "$ROOT"/tests/fixtures/nifti/*.nii.gz "$REGRESSION"/*
  MAX_LEN=8192
  MALLOC_LIMIT=2048  # a .nii.gz of 8 KB may inflate to a large volume
}

# The reader, the loader and what ParamStore / Adam need; no kernels (oneDNN, OpenBLAS) and no
# OpenMP: Adam's pragma is ignored without -fopenmp, which the loader does not run anyway.
build_safetensors() {
  "${CXX[@]}" -DCONTRASEG_VERSION='"fuzz"' \
    "$ROOT/nn/safetensors.cpp" "$ROOT/nn/checkpoint.cpp" "$ROOT/nn/params.cpp" "$ROOT/nn/adam.cpp" \
    "$ROOT/autograd/tensor.cpp" "$ROOT/autograd/allocator.cpp" "$ROOT/tests/fuzz/safetensors_fuzz.cpp" \
    -lz -o "$OUT/safetensors_fuzz"
  if command -v python3 >/dev/null; then
    python3 - "$OUT/corpus" <<'PY'
# Small checkpoints for the fuzzer's ParamStore (tests/fuzz/safetensors_fuzz.cpp), checksummed as
# nn/safetensors.h describes, plus a foreign file with other dtypes and an old version-1 file.
import json, struct, sys, zlib
out = sys.argv[1]
def write(name, tensors, meta, checksum=True):
    header, data = {}, b""
    for tname, dtype, shape, raw in tensors:
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header["__metadata__"] = dict(meta)
    if checksum:
        canonical = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
        header["__metadata__"]["crc32"] = "%08x" % (zlib.crc32(canonical + data) & 0xffffffff)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(f"{out}/seed_{name}.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
f32 = lambda n, v: struct.pack(f"<{n}f", *[v + 0.25 * i for i in range(n)])
model = [("conv.w", "F32", [3, 3, 1, 4], f32(36, 0.5)), ("conv.b", "F32", [4], f32(4, -1.0)),
         ("conv.bn.mean", "F32", [4], f32(4, 0.0))]
adam = [(f"adam.{k}.{n}", d, s, f32(len(r) // 4, 0.01)) for k in "mv" for n, d, s, r in model[:2]]
ours = {"format": "contraseg-checkpoint", "version": "2", "contraseg_version": "0.1.0", "step": "9"}
write("checkpoint", model, ours)
write("checkpoint_adam", model + adam, dict(ours, adam_step="10"))
write("checkpoint_v1", model, dict(ours, version="1"), checksum=False)
write("foreign", [("d", "F64", [2], struct.pack("<2d", 1.5, -2)), ("i", "I32", [3], struct.pack("<3i", 1, 2, 3)),
                  ("l", "I64", [1], struct.pack("<q", 7)), ("b", "BF16", [2], b"\x80\x3f\x00\x40"),
                  ("e", "U8", [0, 5], b"")], {"format": "pt"}, checksum=False)
PY
  else
    echo "python3 not found: fuzzing safetensors from the regression inputs only" >&2
  fi
  seed "$REGRESSION"/*
  # the header's vocabulary, for the mutator (libFuzzer dictionary format)
  cat >"$OUT/dict" <<'DICT'
"\"dtype\":"
"\"shape\":"
"\"data_offsets\":"
"\"__metadata__\":"
"\"F32\""
"\"F64\""
"\"I32\""
"\"I64\""
"\"BF16\""
"\"BOOL\""
"\"format\":\"contraseg-checkpoint\""
"\"version\":"
"\"crc32\":"
"\"adam_step\":"
"adam.m."
"adam.v."
"18446744073709551615"
"9223372036854775807"
DICT
  DICT="$OUT/dict"
  MAX_LEN=8192
  MALLOC_LIMIT=64  # everything the reader allocates is bounded by the (8 KB) file
}

# Config::validate checks values against the model and the losses (nn/unet.h, losses/), so the
# loader links every library part below experiments/, kernels (oneDNN, OpenBLAS) included. Those
# parts only have to link (the loader runs none of them), and clang 14 rejects some of their C++
# (lambdas capturing structured bindings), so g++ compiles them, uninstrumented and without OpenMP;
# the link adds an OpenMP runtime for their omp_* calls.
build_config() {
  local src obj objs=()
  mkdir -p "$OUT/obj"
  for src in "$ROOT"/autograd/*.cpp "$ROOT"/ops/*.cpp "$ROOT"/ops/cpu/*.cpp "$ROOT"/nn/*.cpp "$ROOT"/losses/*.cpp; do
    obj="$OUT/obj/$(echo "${src#"$ROOT"/}" | tr / _).o"
    g++ -std=c++17 -O1 -I"$ROOT" $(pkg-config --cflags openblas) -DCONTRASEG_VERSION='"fuzz"' \
      -Wno-unknown-pragmas -c "$src" -o "$obj"
    objs+=("$obj")
  done
  "${CXX[@]}" "$ROOT/experiments/config.cpp" "$ROOT/experiments/cli/cli.cpp" "$ROOT/tests/fuzz/config_fuzz.cpp" \
    "${objs[@]}" -fopenmp -ldnnl $(pkg-config --libs openblas) -lfmt -lz -o "$OUT/config_fuzz"
  seed "$ROOT"/experiments/configs/*.json "$REGRESSION"/*
  # every word of the schema (keys, their dotted parts, defaults, choices), for the mutator
  grep 'K::' "$ROOT/experiments/config.cpp" | grep -o '"[A-Za-z0-9_.,|-]*"' | tr -d '"' | tr '.,|' '\n\n\n' |
    sort -u | grep -v '^$' | sed 's/.*/"\\"&\\""/' >"$OUT/dict"
  DICT="$OUT/dict"
  MAX_LEN=4096
  MALLOC_LIMIT=64
}

DICT=""  # a libFuzzer dictionary, set by the build step
"build_$TARGET"
echo "fuzzing $TARGET for ${SECONDS_TO_RUN}s (corpus $OUT/corpus, crashes in $OUT/crashes)"
cd "$OUT"
exec "./${TARGET}_fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len="$MAX_LEN" -rss_limit_mb=2048 \
  -malloc_limit_mb="$MALLOC_LIMIT" -timeout=10 -jobs="$JOBS" -workers="$JOBS" -artifact_prefix="$OUT/crashes/" \
  -print_final_stats=1 ${DICT:+-dict="$DICT"} "$@" "$OUT/corpus"
