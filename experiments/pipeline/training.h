#pragma once
// What every training stage shares: the model built from the config, the step loop with logging,
// progress, periodic 'latest' checkpoints, NaN detection and resume.
#include <functional>
#include <memory>
#include <string>

#include "autograd/tensor.h"
#include "experiments/pipeline/config.h"
#include "experiments/pipeline/run_folder.h"
#include "io/rng.h"
#include "nn/adam.h"
#include "nn/unet.h"

namespace cs {

Device config_device(const Config& cfg);        // checks that cuda is available when asked
void apply_threads(const Config& cfg);          // omp_set_num_threads when threads > 0
UNetConfig unet_config(const Config& cfg, const std::string& stage);  // stage: global|local|finetune
std::unique_ptr<UNet> make_model(const Config& cfg, const std::string& stage, Device d);

// A batch of single-channel images [n][h][w] (host) -> Tensor [n, h, w, 1] on d.
Tensor image_batch(const std::vector<float>& images, int n, int h, int w, Device d);

// The random stream of one step: a pure function of (seed, stage, step), so that a resumed run
// draws exactly what an uninterrupted one would.
Rng step_rng(const Config& cfg, const std::string& stage, int step);

struct LoopSpec {
  std::string stage;      // for logs and checkpoint metadata
  int iterations = 0;
  int images_per_step = 0;
  // One optimisation step; returns the loss.
  std::function<double(int step)> step;
  // Called after step s (0-based) when (s+1) % every == 0 and at the end; may save 'best'.
  std::function<void(int step)> validate;
  int validate_every = 0;
};

// Runs steps [start, iterations) where start comes from the newest periodic checkpoint that
// verifies when resuming ('latest', else 'previous'; a damaged one is logged and skipped, and
// when all are damaged it is an error). Saves 'latest' every checkpoint_every steps, keeping the
// one before as 'previous', and 'final' at the end (all with Adam state). A NaN or
// infinite loss stops the run with an error; the last good 'latest' checkpoint stays.
void run_loop(const Config& cfg, RunFolder& run, UNet& model, Adam& adam, const LoopSpec& spec,
              bool resume, bool quiet);

// Checkpoint metadata for a stage (config JSON, stage, step, seed, the run's config hash).
std::map<std::string, std::string> checkpoint_metadata(const Config& cfg, const std::string& stage, int step,
                                                       const std::string& config_hash);

}  // namespace cs
