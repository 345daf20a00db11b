#pragma once
// What every training entry point opens before its own work: threads and device, the data, the
// run folder, the initialisation from the previous stage's run, the training cases, the model and
// its step, and the checks between them (stage_checks.h). A stage is then its probes or
// validation around run_loop (training.h); `profile` and the benchmarks build the same step.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/pipeline/data.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/methods/stage_step.h"
#include "experiments/pipeline/stages.h"
#include "experiments/settings.h"

namespace cs {

struct StageContext {
  StageContext(Stage stage, const Settings& settings, const StageOptions& options);

  Stage stage;
  Settings settings;
  Device device;
  DataSource data;
  RunFolder run;
  std::string init_description;        // "random initialisation", "encoder from DIR", ...
  CaseList train_list;                 // the cases the step samples from
  std::vector<PreparedCase> train;     // empty, and model and step null, for a finished run
  std::vector<SliceStack> stacks;
  std::unique_ptr<UNet> model;
  std::unique_ptr<StageStep> step;

  bool finished() const { return run.finished(); }
};

// The other lists an entry point reads, from the stage's data source.
using MoreLists = std::function<std::vector<CaseList>(const DataSource&)>;

// Opens a stage. `more_lists`: the other lists the entry point reads (probes, validation, test),
// checked with the training list before anything is loaded. For a finished run (resumed with its
// final checkpoint) it says so and loads nothing; otherwise it loads the training cases and the
// initial weights, builds the step and checks it against the data, creating nothing: the entry
// point loads what else it needs, then calls run.start().
std::unique_ptr<StageContext> open_stage(Stage stage, const Settings& settings, const StageOptions& options,
                                         const MoreLists& more_lists = nullptr);

}  // namespace cs
