// The pretext task rotation (docs/method.md §8.1, after Gidaris et al., ICLR 2018): every slice is
// shown in its four turns, 0, 90, 180 and 270 degrees, in the same batch (experiments/batches.h
// rotation_batch), and the encoder with the rotation head (the bottleneck's global average, then a
// dense layer to 4 logits, nn/unet.h rot_pred) learns which turn it sees, with cross-entropy. The
// encoder is what fine-tuning takes from it.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "experiments/methods/pretext.h"
#include "experiments/methods/steps.h"
#include "losses/segmentation.h"
#include "ops/ops.h"

namespace cs {

namespace {

class RotationStep final : public PretextStep {
 public:
  using PretextStep::PretextStep;

  std::string description() const override {
    return fmt::format("rotation: {} slices x 4 turns, cross-entropy, {} images", images_per_step() / kRotations,
                       images_per_step());
  }

  Tensor loss(const StepBatch& b) override {
    const RunMode m = RunMode::training();
    const Tensor logits = model_.rotation_logits(model_.encoder(b.images, m).bottleneck, m);
    // Cross-entropy as the weighted cross-entropy of fine-tuning (losses/segmentation.h) with
    // every weight 1, each image one "pixel" of 4 classes: the mean over images of -log p(turn).
    static const std::vector<float> equal(kRotations, 1.f);
    return weighted_cross_entropy(reshape(logits, {logits.dim(0), 1, 1, kRotations}), b.labels, equal);
  }
};

}  // namespace

std::unique_ptr<StageStep> make_rotation_step(const Settings& settings, UNet& model,
                                              const std::vector<SliceStack>& stacks) {
  if (settings.pretext.batch % kRotations != 0)  // config.cpp says so first, naming the key
    throw std::invalid_argument("pretext.batch must be a multiple of 4 for pretext.task = rotation");
  return std::make_unique<RotationStep>(settings, model, stacks);
}

}  // namespace cs
