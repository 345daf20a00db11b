#pragma once
// The whole protocol for one dataset (docs/method.md §2-4, §7-9): the pre-trainings of the table's
// rows (reproduce.rows), each once, then fine-tuning from every row's initialisation for every
// labelled set and combination, each evaluated on the test cases, and a results table in the
// paper's layout.
#include <string>
#include <utility>
#include <vector>

#include "experiments/settings.h"
#include "io/datasets/splits.h"

namespace cs {

struct ReproduceOptions {
  std::string out;
  std::string command_line;
  bool quiet = true;  // per-step lines go to the run folders' log.txt only
};

// The (labelled set, combination) cells of the table, in its order: every combination of `asked`
// the split has, or with `asked` empty (reproduce.combs = all) every combination the split defines
// for each set (the released splits: tr1 c1-c5, tr2 c1-c5, tr8 c1-c3). A set the split has none of
// is refused (std::invalid_argument naming it and the fix); asked combinations a set lacks are
// said in `missing`, since their column then averages fewer runs.
std::vector<std::pair<std::string, std::string>> reproduce_cells(const Splits& split,
                                                                 const std::vector<std::string>& sets,
                                                                 const std::vector<std::string>& asked,
                                                                 std::vector<std::string>& missing);

// The name of a table's files in OUT, without extension: "results" for a list of rows,
// "results-<preset>" for a preset, so that the tables of one folder sit side by side.
std::string results_stem(const TablePlan& table);

// Runs (or, when re-run on the same folder, resumes or skips) every part and writes
// OUT/<results_stem>.md and .csv. Runs already in OUT are shared: a row whose pre-training or
// fine-tuning another table trained there reuses it. Returns the markdown table.
std::string run_reproduce(const Settings& settings, const ReproduceOptions& opt);

}  // namespace cs
