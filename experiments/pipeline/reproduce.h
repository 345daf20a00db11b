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

// One unit of work of a reproduce folder, as the executors (experiments/pipeline/slurm_grid.h)
// schedule it: each pre-training, each fine-tuning run (with its evaluation), and the table.
struct GridTask {
  std::string id;     // "pretrain:gd", "finetune:3" (in the table's order), "table"
  std::string title;  // "pre-training gd (global)", "G^D + L^R, tr1 c2"
  std::string dir;    // its run folder; for the table, its markdown file
  std::vector<std::string> after;  // the ids it needs finished first
};
// Whether a task's work is in its folder: a pre-training's final checkpoint, a fine-tuning run's
// evaluation, the table's file.
bool task_finished(const GridTask& task);
// A task's id as a file name: "pretrain:gd+lr@l3" -> "pretrain_gd+lr@l3".
std::string task_file_name(const std::string& id);

// The tasks of the table settings.reproduce asks for in `out`, pre-trainings first (each after the
// one it starts from), the table last. Checks the split and every case as run_reproduce does.
std::vector<GridTask> reproduce_tasks(const Settings& settings, const std::string& out);

// Runs one task (GridTask::id) through the same code as run_reproduce: the run folder's lock, config
// check, skip-if-finished and resume; "table" needs every fine-tuning run evaluated. Unlike
// run_reproduce it does not lock the whole folder, so that the tasks of a grid run at once.
void run_reproduce_task(const Settings& settings, const ReproduceOptions& opt, const std::string& task);

// Runs (or, when re-run on the same folder, resumes or skips) every part and writes
// OUT/<results_stem>.md and .csv. Runs already in OUT are shared: a row whose pre-training or
// fine-tuning another table trained there reuses it. Returns the markdown table.
std::string run_reproduce(const Settings& settings, const ReproduceOptions& opt);

}  // namespace cs
