#pragma once
// The step the pretext tasks of stage pretrain-pretext share (docs/method.md §8), the baselines the
// method is compared with: slices drawn uniformly with replacement from the pool, made into the
// task's batch (experiments/batches.h: turned, patches swapped, a square masked), and the task's
// network and loss, which each task's step adds in its own file (rotation.cpp,
// context_restoration.cpp, inpainting.cpp).
#include <string>
#include <vector>

#include "experiments/batches.h"
#include "experiments/methods/stage_step.h"

namespace cs {

// The batch as a step takes it on device d (stage_step.h StepBatch): the labels are the turns
// one-hot [images, 1, 1, 4] (rotation) or the originals [images, side, side, 1]; the mask
// [images, side, side, 1] is set for inpainting.
StepBatch pretext_step_batch(const PretextBatch& b, Device d);

// The mean squared error between the restored and the original images [n, h, w, 1], [1] on the
// tape: over every pixel without a mask; with a 0/1 mask, over its `masked` pixels only (a count
// the host knows, so that nothing is read back from the device).
Tensor reconstruction_loss(const Tensor& restored, const Tensor& original, const Tensor& mask = Tensor(),
                           double masked = 0);

class PretextStep : public StageStep {
 public:
  PretextStep(const Settings& settings, UNet& model, const std::vector<SliceStack>& stacks);
  // pretext_slices(task, pretext.batch) slices drawn uniformly with replacement from step_rng
  // alone, then the task's batch of them (make_pretext_batch, same rng).
  StepBatch sample(int step) override;

 protected:
  const PretextSettings& pretext() const { return settings_.pretext; }

 private:
  std::vector<float> slices_;  // the drawn slices, kept between steps
};

}  // namespace cs
