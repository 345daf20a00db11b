#pragma once
// The data side of the pipeline: which dataset, which split, and the preprocessed slice stacks
// of the cases a stage needs (SPEC 5.1), kept in memory with their native volumes for the
// inverse mapping of evaluation (SPEC 6.1).
#include <string>
#include <vector>

#include "experiments/config.h"
#include "io/datasets.h"
#include "io/preprocess.h"
#include "io/slices.h"
#include "io/splits.h"

namespace cs {

struct PreparedCase {
  std::string id;
  SliceStack stack;   // preprocessed slices [z][h][w] (+ labels when present)
  Volume native_label;  // the original label volume (evaluation compares at native resolution)
  Volume native_image;  // kept only for evaluation (geometry of the predictions)
};

class DataSource {
 public:
  explicit DataSource(const Config& cfg);

  const Splits& splits() const { return splits_; }
  const PreprocessParams& params() const { return params_; }
  const std::string& root() const { return root_; }
  int num_classes() const { return params_.num_classes; }

  // Loads and preprocesses the cases with these ids (progress printed with `what`, none if empty).
  // keep_native: keep the native image/label volumes (evaluation).
  std::vector<PreparedCase> prepare(const IdList& ids, bool need_labels, bool keep_native,
                                    const std::string& what) const;

 private:
  std::string dataset_, root_;
  std::vector<Case> cases_;
  Splits splits_;
  PreprocessParams params_;
};

// Preprocessing parameters from the config (dataset constants unless image_size / target_res /
// num_classes are set).
PreprocessParams pipeline_params(const Config& cfg);

// Preprocesses one native image (and label) with the pipeline's parameters.
PreparedCase prepare_case(const LoadedCase& c, const PreprocessParams& p, bool keep_native);

// The splits used for a data directory: DIR/splits.json when the directory has one (the demo
// writes one), otherwise the dataset's paper split file (experiments/splits/<dataset>.json).
std::string splits_path_for(const std::string& dataset, const std::string& root);

// A split for data that has none (a folder of ACDC-layout cases the user brings to the demo):
// the sorted case ids are dealt into a test set (a quarter, at least 2), labelled sets tr1 and
// tr2 with combinations c1..c3 and a validation pair, and a pre-training pool (the rest plus the
// labelled cases). Written as a split file the same loader reads.
void write_derived_splits(const std::string& path, const std::string& dataset,
                          const std::vector<std::string>& ids);

// The stacks of a list of prepared cases (what the samplers take).
std::vector<SliceStack> stacks_of(const std::vector<PreparedCase>& cases);

}  // namespace cs
