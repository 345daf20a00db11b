#pragma once
// What every training stage shares: the device and threads from the settings, the step loop
// (over a StageStep) with logging, progress, periodic 'latest' checkpoints, NaN detection and resume.
#include <functional>
#include <memory>
#include <string>

#include "experiments/settings.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/methods/stage_step.h"

namespace cs {

// The run's device: checks that cuda is available when asked, and applies the device settings
// (`deterministic`: cuda::set_conv_deterministic; on the CPU it changes nothing). Every entry
// point that runs ops calls it before the first one.
Device checked_device(const Settings& settings);
// The threads a run uses: `threads`, capped at the machine's hardware threads (with one warning
// on stderr naming the asked and the used value); with threads = 0, OpenMP's default.
int thread_count(const Settings& settings);
void apply_threads(const Settings& settings);  // set_cpu_threads(thread_count) when threads > 0

struct LoopSpec {
  int iterations = 0;
  // Called after step s (0-based) when (s+1) % every == 0 and at the end; may save 'best'.
  std::function<void(int step)> validate;
  int validate_every = 0;
};

// Runs steps [start, iterations) where start comes from the newest periodic checkpoint that
// verifies when resuming ('latest', else 'previous'; a damaged one is logged and skipped, and
// when all are damaged it is an error). Saves 'latest' every checkpoint_every steps, keeping the
// one before as 'previous', and 'final' at the end (all with Adam state). A NaN or
// infinite loss stops the run with an error; the last good 'latest' checkpoint stays.
void run_loop(const Settings& settings, RunFolder& run, StageStep& step, const LoopSpec& spec, bool resume, bool quiet);

// A function called after every training step of the process with the number of steps the stage
// has done, after that step's checkpoint (none by default): the seam where tests stop a run as a
// kill would (tests/tools/killable_contraseg.cpp).
using StepHook = void (*)(int steps_done);
void set_step_hook(StepHook hook);

// Checkpoint metadata for a stage (config JSON, stage, step, seed, the run's config hash).
std::map<std::string, std::string> checkpoint_metadata(const Settings& settings, Stage stage, int step,
                                                       const std::string& config_hash);

}  // namespace cs
