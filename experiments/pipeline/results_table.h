#pragma once
// The results of a table's fine-tuning runs in the paper's layout (docs/method.md §9): one row per
// initialisation, one column per labelled set, mean ± sd over the combinations with n, the held-out
// probe of each row's pre-training beside its Dice (a row whose pre-training learned nothing is
// marked, with the likely reason), and a per-class table; results.csv has one line per run.
#include <string>
#include <vector>

#include "experiments/evaluation/probe_reading.h"
#include "experiments/table_rows.h"

namespace cs {

// One fine-tuning run's test score.
struct RunScore {
  std::string row, tr, comb;     // row: TableRow::key
  double dice = 0;               // foreground mean Dice (NaN when undefined)
  std::vector<double> class_dice;  // per foreground class, in class order (NaN when undefined)
};

// A pre-training's probe record, by its name in the plan (none when it ran without a probe).
struct PretrainProbe {
  std::string name;
  ProbeRecord record;
};

struct ResultsTable {
  std::string title;                       // "acdc results (paper mode), table paper-comparison"
  std::vector<std::string> sets;           // columns, in order
  std::vector<std::string> classes;        // foreground class names
  const TablePlan* plan = nullptr;
  std::vector<RunScore> runs;
  std::vector<PretrainProbe> probes;
  std::vector<std::string> notes;          // sentences under the table (protocol, missing runs)
  std::string footer;                      // where the runs are, the machine and the time
};

std::string results_markdown(const ResultsTable& t);
// "dataset,init,labeled,comb,foreground_mean_dice,dice_<class>..." with one line per run.
std::string results_csv(const ResultsTable& t, const std::string& dataset);

// Several datasets' tables side by side (`contraseg table`): one row per initialisation of any of
// them, one column per dataset and labelled set, mean ± sd over its combinations with n. `csvs`
// holds each dataset's results.csv (results_csv's form) and names its file in errors; throws
// std::runtime_error naming the file when it is not such a table or repeats another's dataset.
struct ResultsCsv {
  std::string path, text;
};
std::string side_by_side_markdown(const std::vector<ResultsCsv>& csvs);

// Reads eval/summary.json of a fine-tuning run: the foreground mean and per-class Dice of `classes`.
RunScore read_run_score(const std::string& summary_json, const std::vector<std::string>& classes);

}  // namespace cs
