// The pretext task context restoration (docs/method.md §8.2, after Chen et al., Medical Image
// Analysis 2019): pairs of small disjoint patches of a slice are swapped (experiments/batches.h
// restoration_batch), which keeps its intensities and moves its context, and the whole U-Net with
// a one-channel linear output (nn/unet.h rec_fin_layer) learns to restore the original slice, with
// the mean squared error over every pixel. The encoder and the decoder are what fine-tuning takes
// from it.
#include <string>

#include <fmt/format.h>

#include "experiments/methods/pretext.h"
#include "experiments/methods/steps.h"

namespace cs {

namespace {

class RestorationStep final : public PretextStep {
 public:
  using PretextStep::PretextStep;

  std::string description() const override {
    return fmt::format("restoration: {} swaps of {}x{} patches per slice, mean squared error, {} images",
                       pretext().swaps, pretext().patch, pretext().patch, images_per_step());
  }

  Tensor loss(const StepBatch& b) override {
    const RunMode m = RunMode::training();
    const Tensor restored = model_.image_output(model_.decoder_blocks(model_.encoder(b.images, m), 5, m), m);
    return reconstruction_loss(restored, b.labels);
  }
};

}  // namespace

std::unique_ptr<StageStep> make_context_restoration_step(const Settings& settings, UNet& model,
                                                         const std::vector<SliceStack>& stacks) {
  return std::make_unique<RestorationStep>(settings, model, stacks);
}

}  // namespace cs
