#pragma once
// Patient-ID splits of docs/method.md §6.4, loaded from experiments/splits/<dataset>.json.
//
// A split file holds: the test set, the unlabelled pre-training pool (with the validation list the
// released code attaches to it), the labelled sets tr1/tr2/tr8 x c1..c5 each with its own
// validation pair, and the benchmark list. A "reference" object overrides entries whose released
// lists differ from the paper's (ACDC: patient 011 both in the benchmark's training and
// validation lists). IDs are zero-padded strings, as in the dataset file names.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autograd/compat.h"

namespace cs {

using IdList = std::vector<std::string>;

struct LabeledSet {
  IdList train, val;
};

class Splits {
 public:
  std::string dataset;  // "acdc", "prostate", "mmwhs"
  Compat compat = Compat::Paper;
  std::string path;     // the file it came from

  // Labelled volumes of one combination: tr is "tr1", "tr2", "tr8" (or "1", "2", "8"), comb "c1".."c5"
  // (or "1".."5"); the benchmark's name ("trall") is accepted as tr with any comb.
  // Unknown combinations throw std::invalid_argument listing the available ones.
  const IdList& labeled(const std::string& tr, const std::string& comb) const;
  const IdList& validation(const std::string& tr, const std::string& comb) const;
  const IdList& test() const { return test_; }
  const IdList& pretrain_pool() const { return pretrain_.train; }
  const IdList& pretrain_validation() const { return pretrain_.val; }
  const IdList& benchmark() const { return benchmark_.train; }
  const IdList& benchmark_validation() const { return benchmark_.val; }
  const std::string& benchmark_name() const { return benchmark_name_; }
  // Available combinations, e.g. {"tr1": {"c1", ..., "c5"}, ...}.
  std::map<std::string, std::vector<std::string>> combinations() const;
  // Every ID the split names (test, pool, labelled sets, benchmark, their validation lists), sorted.
  IdList all_ids() const;
  // What a reader should know about the lists as loaded: in reference mode, the released lists'
  // known overlaps that the mode keeps (docs/method.md §6.4).
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  friend Splits load_splits(const std::string& path, Compat compat);
  const LabeledSet& find(const std::string& tr, const std::string& comb) const;
  IdList test_;
  LabeledSet pretrain_, benchmark_;
  std::string benchmark_name_;
  std::map<std::string, std::map<std::string, LabeledSet>> sets_;
  std::vector<std::string> notes_;
};

// Loads a split file in the compat mode's reading. Throws std::runtime_error naming
// the file when it is missing or malformed. A split
// must also make sense: no list names a case twice (it would count as two volumes), and in paper
// mode no test case is in any other list and no labelled set's training case in its own
// validation list. Reference mode keeps such overlaps in the lists of the file's "reference" object
// (the released lists) and says so in notes().
Splits load_splits(const std::string& path, Compat compat = Compat::Paper);

// A split for cases that have none, as the text of a split file (the format load_splits reads):
// the IDs, sorted (seed 0) or shuffled by `seed`, are dealt: every 4th to the test set (at least
// 2, about a quarter), the last two of the others to the validation pair, and the remaining
// "candidates" form the pre-training pool and benchmark. Labelled sets where the data allows:
// tr1 c_k = candidate k, tr2 c_k = candidates k, k+1, tr8 c_k = 8 consecutive candidates from k
// (cyclic), for c1..c5 but never more combinations than distinct sets; tr2 needs 2 candidates,
// tr8 needs 8. Throws std::invalid_argument with fewer than kMinDerivedSplitCases IDs or a repeated ID.
constexpr int kMinDerivedSplitCases = 7;  // test 2, validation 2, labelled 3
std::string derived_splits_json(const IdList& ids, const std::string& dataset, uint64_t seed = 0);

// Where <dataset>.json lives: $CONTRASEG_SPLITS_DIR, ./experiments/splits, or the source tree's
// experiments/splits next to the running executable's build folder. Throws if none has it.
std::string find_splits_file(const std::string& dataset);

}  // namespace cs
