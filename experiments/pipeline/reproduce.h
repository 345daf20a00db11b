#pragma once
// The whole protocol for one dataset (docs/method.md §2-4, §7): stage 1, stage 2, then stage 3 from three
// initialisations (random, global only, global + local) for every labelled set and combination,
// each evaluated on the test cases, and a results table in the paper's layout.
#include <string>

#include "experiments/settings.h"

namespace cs {

struct ReproduceOptions {
  std::string out;
  std::string command_line;
  bool quiet = true;  // per-step lines go to the run folders' log.txt only
};

// Runs (or, when re-run on the same folder, resumes or skips) every part and writes
// OUT/results.md and OUT/results.csv. Returns the markdown table.
std::string run_reproduce(const Settings& settings, const ReproduceOptions& opt);

}  // namespace cs
