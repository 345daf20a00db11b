#pragma once
// One training step of a stage, built from the resolved settings: the batch, the forward pass and
// the loss, backward and Adam. Each method (registry.h) is a subclass in a file of its own.
// Training (experiments/pipeline/stage_*.cpp), `contraseg profile` and the step benchmarks
// (bench/bench_unet_step.cpp) all run these, so what is profiled or timed is exactly what trains
// (mode, loss, BN behaviour, batch).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/precision.h"
#include "experiments/settings.h"
#include "autograd/compat.h"
#include "io/augmentation/augment.h"
#include "io/rng.h"
#include "io/datasets/slices.h"
#include "losses/local.h"
#include "losses/slot_layout.h"
#include "nn/adam.h"
#include "nn/unet.h"
#include "ops/contrast_plan.h"

namespace cs {

// The network of a stage: stage 1 is the encoder + g1, stage 2 the encoder, decoder blocks 1..l
// and g2, fine-tuning the whole UNet; the pretext stage the encoder + rot_pred (rotation) or the
// encoder, the 5 decoder blocks and rec_fin_layer (restoration, inpainting); sized by the settings
// (image size, classes).
UNetConfig unet_config(const Settings& settings, Stage s);
// Initialised from the settings' seed, one stream per stage.
std::unique_ptr<UNet> make_model(const Settings& settings, Stage s, Device d);

// The random stream of one step: a pure function of (seed, stage, step), so that a resumed run
// draws exactly what an uninterrupted one would.
Rng step_rng(const Settings& settings, Stage s, int step);

// The inputs of one step: images [n, h, w, 1]; labels [n, h, w, C] for fine-tuning (soft labels
// after augmentation, else one-hot), the pretext task's target for the pretext stage (rotation:
// one-hot turns [n, 1, 1, 4]; restoration, inpainting: the original slices [n, h, w, 1]), undefined
// for the contrastive stages; mask [n, h, w, 1]: the pixels an inpainting loss counts (1) and
// ignores (0), undefined otherwise.
struct StepBatch {
  Tensor images;
  Tensor labels;
  Tensor mask = {};
};

// Hooks around the phases of a step: "data", "forward" (forward pass and loss), "backward",
// "optimizer". The profiler implements them.
struct StepPhases {
  virtual ~StepPhases() = default;
  virtual void phase_begin(const std::string& phase) = 0;
  virtual void phase_end(const std::string& phase) = 0;
};

class StageStep {
 public:
  virtual ~StageStep() = default;
  StageStep(const StageStep&) = delete;
  StageStep& operator=(const StageStep&) = delete;

  // The batch of step `step`, from step_rng (sampling, views, augmentation).
  virtual StepBatch sample(int step) = 0;
  // Forward pass and loss -> [1], recorded on the tape.
  virtual Tensor loss(const StepBatch& batch) = 0;

  // The rows [rows, d] the step's contrastive loss compares for `batch` and the loss's term list
  // (the similarity-matrix picture), from a forward pass without a tape whose BN uses batch
  // statistics and leaves the moving averages untouched. Stage 1 only; others throw.
  struct ContrastRows {
    std::vector<float> z;
    const ContrastSpec* spec = nullptr;
  };
  virtual ContrastRows contrast_rows(const StepBatch& batch);
  // The slot layout its batches are drawn in (losses/slot_layout.h); null for fine-tuning, whose
  // slices are drawn uniformly.
  virtual const SlotLayout* slot_layout() const { return nullptr; }

  // zero_grad, loss, backward, Adam, with the loss's forward pass in the settings' precision
  // (autograd/precision.h); returns the loss value.
  double train(const StepBatch& batch, StepPhases* phases = nullptr);
  // sample(step), then train.
  double run(int step, StepPhases* phases = nullptr);

  Stage stage() const { return stage_; }
  int images_per_step() const { return images_; }
  // One line for logs and the profile: loss, mode, batch.
  virtual std::string description() const = 0;
  UNet& model() { return model_; }
  Adam& adam() { return adam_; }

 protected:
  // Builds Adam over the parameters that train (call after freezing). The step draws its batches
  // from `stacks`, which must outlive it.
  StageStep(Stage stage, const Settings& settings, UNet& model, int images, const std::vector<SliceStack>& stacks);
  // The images [n, s, s, 1] of a contrastive batch: slices drawn in `layout` from the stacks with
  // rng, then their views rendered (experiments/batches.h).
  Tensor draw_views(const SlotLayout& layout, Compat mode, Rng& rng, const CropConfig& crop = {});

  const Settings settings_;
  UNet& model_;
  const std::vector<SliceStack>& stacks_;
  const std::vector<int> counts_;  // slices per stack

 private:
  Stage stage_;
  int images_;
  Precision precision_;
  Adam adam_;
  std::vector<float> rendered_;  // draw_views' pixels, kept between steps
};

// The step of the method the settings choose for `stage` (registry.h) for `model` (from
// make_model, with any initialisation already loaded) over `stacks`, which must outlive it
// (labelled stacks for fine-tuning). Stage 2 freezes the encoder here, before Adam is built over
// the rest.
std::unique_ptr<StageStep> make_stage_step(Stage stage, const Settings& settings, UNet& model,
                                           const std::vector<SliceStack>& stacks);

// Stage 2's loss options from the settings, and the BN mode of its frozen encoder (docs/method.md
// §3.1): paper normalises with the stage-1 running statistics, reference with batch statistics.
LocalLossOptions local_options(const Settings& settings);
RunMode local_encoder_mode(Compat mode);

// Sets the BN moving statistics of the step's model to the mean of the batch statistics over the
// training batches of steps last, last-1, ... (`batches` of them, no earlier than step 0), in
// training-mode forward passes without a tape. With a decay of 0.99 the moving averages remember
// about 100 steps, so in a short run the network that validates would not be the one that trains.
void estimate_bn_statistics(StageStep& step, int last, int batches);

// The images of a batch as the network takes them: [n][h][w] -> [n, h, w, 1] on `d`.
Tensor image_batch(const std::vector<float>& images, int n, int h, int w, Device d);

// Random slice stacks (uniform intensities, uniform labels) standing in for a dataset: the
// profile and the benchmarks measure compute, not disk.
std::vector<SliceStack> random_stacks(int volumes, int slices, int size, int classes, uint64_t seed);

}  // namespace cs
