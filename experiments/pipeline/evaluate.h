#pragma once
// Evaluation of a fine-tuned run on the split's test cases (docs/method.md §7).
#include <string>

#include "experiments/settings.h"

namespace cs {

struct EvalResult {
  double foreground_mean_dice = 0;  // mean over cases of the per-case foreground mean
  double foreground_mean_hd95 = 0;  // mm, NaN-aware
  int cases = 0;
};
// Evaluates a fine-tuned run (its best checkpoint, else final) on the split's test cases: writes
// metrics_per_case.csv, summary.json, predictions/*.nii.gz and pictures/*.png into out_dir, whole
// or not at all (written beside it, then renamed). An existing out_dir is an error unless
// overwrite.
// The name of class c in the evaluation's files: the dataset's ("LV"), else "class<c>" (num_classes
// above the dataset's).
std::string class_name(const PreprocessParams& p, int c);

EvalResult run_evaluate(const Settings& settings, const std::string& run_dir, const std::string& out_dir,
                        const std::string& which_checkpoint = "best", bool overwrite = false, int pictures = 4);

}  // namespace cs
