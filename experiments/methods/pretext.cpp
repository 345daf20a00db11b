// What the pretext tasks' steps share (pretext.h). The tasks' own steps are in rotation.cpp,
// context_restoration.cpp and inpainting.cpp; their batches in experiments/batches.cpp.
#include "experiments/methods/pretext.h"

#include <stdexcept>

#include <fmt/format.h>

#include "io/augmentation/augment.h"
#include "io/augmentation/sampler.h"
#include "ops/ops.h"

namespace cs {

StepBatch pretext_step_batch(const PretextBatch& b, Device d) {
  StepBatch s;
  s.images = image_batch(b.input, b.images, b.side, b.side, d);
  if (!b.turns.empty()) {
    std::vector<float> one_hot(static_cast<size_t>(b.images) * kRotations, 0.f);
    for (int i = 0; i < b.images; ++i) one_hot[static_cast<size_t>(i) * kRotations + b.turns[i]] = 1.f;
    s.labels = Tensor::from_vector({b.images, 1, 1, kRotations}, one_hot, d);
    return s;
  }
  s.labels = image_batch(b.target, b.images, b.side, b.side, d);
  if (!b.mask.empty()) s.mask = image_batch(b.mask, b.images, b.side, b.side, d);
  return s;
}

Tensor reconstruction_loss(const Tensor& restored, const Tensor& original, const Tensor& mask, double masked) {
  check_shape(original, restored.shape(), "reconstruction_loss", "original (as the restored image)");
  Tensor error = add(restored, scale(original, -1.f));
  if (!mask.defined()) return mean(mul(error, error));
  check_shape(mask, restored.shape(), "reconstruction_loss", "mask (as the restored image)");
  if (!(masked > 0)) throw std::invalid_argument("reconstruction_loss: the mask covers no pixel");
  // The mask is 0 or 1: the masked error squared is the squared error inside the mask.
  error = mul(error, mask);
  return scale(sum(mul(error, error)), static_cast<float>(1.0 / masked));
}

PretextStep::PretextStep(const Settings& settings, UNet& model, const std::vector<SliceStack>& stacks)
    : StageStep(Stage::Pretext, settings, model, settings.pretext.batch, stacks) {
  if (pretext_slices(settings.pretext.task, images_per_step()) < 1)
    throw std::invalid_argument(fmt::format("pretext.batch = {}: fewer images than one slice shows for pretext.task "
                                            "= {}",
                                            images_per_step(), pretext_task_name(settings.pretext.task)));
}

StepBatch PretextStep::sample(int step) {
  Rng rng = step_rng(settings_, Stage::Pretext, step);
  const int n = pretext_slices(pretext().task, images_per_step()), s = model_.config().image_size;
  slices_.resize(static_cast<size_t>(n) * s * s);
  gather_slices(stacks_, sample_uniform_slices(counts_, n, rng), slices_.data(), nullptr);
  return pretext_step_batch(make_pretext_batch(pretext(), slices_.data(), n, s, rng), model_.device());
}

}  // namespace cs
