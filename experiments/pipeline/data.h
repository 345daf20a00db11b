#pragma once
// The data side of the pipeline: which dataset, which split, and the preprocessed slice stacks
// of the cases a stage needs (docs/method.md §6.2), kept in memory with their native volumes for the
// inverse mapping of evaluation (§7.1).
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/settings.h"
#include "io/datasets/datasets.h"
#include "io/datasets/preprocess.h"
#include "io/datasets/slices.h"
#include "io/datasets/splits.h"

namespace cs {

// One list of cases a stage reads, for the checks before any work: `name` says which list it is
// in messages ("labelled set tr1 c1").
struct CaseList {
  std::string name;
  IdList ids;
  bool labels = false;  // its cases are read with their label files
};

class DataSource {
 public:
  // Lists the folder's cases and loads the split (whose own sense io/datasets/splits.h checks); prints the
  // split's notes. With settings.data.n4, every image this source loads is replaced by its N4
  // correction from the cache (io/datasets/n4_cache.h), computed there the first time.
  explicit DataSource(const Settings& settings);

  // The lists a stage reads, checked before anything is created: each is non-empty and names
  // cases of the folder. Throws naming the split file, the list, the cases and the fix.
  void check_lists(const std::vector<CaseList>& lists) const;
  // Loads every case of the lists and checks it as prepare does (image and label dims equal,
  // finite values, labels class indices below num_classes), keeping nothing: for the cases a
  // stage reads only later (the test cases of evaluation). Cases that passed in this process are
  // not read again. Throws naming the case, the file and the fix.
  void check_cases(const std::vector<CaseList>& lists) const;

  const Splits& splits() const { return splits_; }
  const PreprocessParams& params() const { return params_; }
  const std::string& root() const { return root_; }
  int num_classes() const { return params_.num_classes; }

  // Loads and preprocesses the cases with these ids (progress printed with `what`, none if empty),
  // with check_cases' checks. keep_native: keep the native image/label volumes (evaluation).
  std::vector<PreparedCase> prepare(const IdList& ids, bool need_labels, bool keep_native,
                                    const std::string& what) const;

 private:
  // The case as a stage reads it: loaded, and N4-corrected when n4_ is set.
  LoadedCase load(const Case& c, bool need_labels, bool tty) const;

  std::string dataset_, root_;
  bool n4_ = false;
  std::string n4_cache_;
  std::vector<Case> cases_;
  Splits splits_;
  PreprocessParams params_;
};

// Preprocesses one native image (and label) with the pipeline's parameters; label_file names the
// label in errors.
PreparedCase prepare_case(const LoadedCase& c, const PreprocessParams& p, bool keep_native,
                          const std::string& label_file = "");

// The splits used for a data directory: DIR/splits.json when the directory has one (`contraseg
// split` and `contraseg synth` write one), otherwise the dataset's paper split file
// (experiments/splits/<dataset>.json).
std::string splits_path_for(const std::string& dataset, const std::string& root);

// The layout list_cases reads for the setting `layout`: "auto" is the dataset's own layout, "msd"
// is read by the prostate lister.
std::string dataset_layout(const std::string& layout, const std::string& dataset);

// Derives a split from the cases of a data folder (io/datasets/splits.h derived_splits_json, with `seed`)
// and writes it atomically to `path`; returns it as loaded back. Throws naming the folder when it
// holds too few cases.
Splits write_folder_split(const std::string& root, const std::string& layout, const std::string& dataset,
                          const std::string& path, uint64_t seed = 0);

// A few lines for people: the size and IDs of each set and the labelled combinations.
std::string describe_split(const Splits& s);


// The stacks of a list of prepared cases (what the samplers take).
std::vector<SliceStack> stacks_of(const std::vector<PreparedCase>& cases);

}  // namespace cs
