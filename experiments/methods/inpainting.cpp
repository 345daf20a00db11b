// The pretext task inpainting (docs/method.md §8.3, the context encoder of Pathak et al., CVPR
// 2016, without its adversarial term): a square of a quarter of the slice, at a random position,
// is filled with the mean of the rest (experiments/batches.h inpainting_batch), and the whole U-Net
// with a one-channel linear output (nn/unet.h rec_fin_layer) learns to paint it back, with the mean
// squared error over the masked pixels only. The encoder and the decoder are what fine-tuning
// takes from it.
#include <string>

#include <fmt/format.h>

#include "experiments/methods/pretext.h"
#include "experiments/methods/steps.h"

namespace cs {

namespace {

class InpaintingStep final : public PretextStep {
 public:
  using PretextStep::PretextStep;

  std::string description() const override {
    return fmt::format("inpainting: a {}x{} square per slice, mean squared error inside it, {} images", pretext().mask,
                       pretext().mask, images_per_step());
  }

  Tensor loss(const StepBatch& b) override {
    const RunMode m = RunMode::training();
    const Tensor restored = model_.image_output(model_.decoder_blocks(model_.encoder(b.images, m), 5, m), m);
    // Every square has mask x mask pixels, all inside the slice.
    const double masked = static_cast<double>(b.images.dim(0)) * pretext().mask * pretext().mask;
    return reconstruction_loss(restored, b.labels, b.mask, masked);
  }
};

}  // namespace

std::unique_ptr<StageStep> make_inpainting_step(const Settings& settings, UNet& model,
                                                const std::vector<SliceStack>& stacks) {
  return std::make_unique<InpaintingStep>(settings, model, stacks);
}

}  // namespace cs
