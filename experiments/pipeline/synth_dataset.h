#pragma once
// `contraseg synth`'s dataset: phantom patients (io/synth/synth.h) in the ACDC layout, with a split.
#include <string>

#include "io/synth/synth.h"

namespace cs {

// Writes `opt.patients` (1..999) phantom patients (io/synth/synth.h) into `out` in the ACDC layout,
// `threads` at a time (0: the hardware threads, at most 8), with one progress line per patient in
// patient order; then `out`/splits.json, the sorted deal (split seed 0) of the folder's cases,
// when there are enough for a split.
// `out` must be new or empty; with `overwrite` it may also hold a dataset synth wrote (nothing
// else, and never the root, home or working directory or a folder above it), which is replaced
// whole (experiments/pipeline/output_folder.h). Throws naming `out` before writing.
void synthesise_dataset(const std::string& out, const PhantomOptions& opt, int threads, bool overwrite = false);

}  // namespace cs
