#pragma once
// What pretext-task pre-training learned (docs/method.md §8.5), on slices of volumes the stage never
// saw: the probe draws once, at construction, slices of the held-out volumes and makes them into
// the task's batches (the same turns, swaps or masks at every reading), and each reading scores
// the network on them against a reference:
//  - rotation: the accuracy of the predicted turn (argmax of the 4 logits) over every turn of
//    every slice, against chance, 1/4;
//  - restoration and inpainting: the mean squared error of the restored slices against the
//    originals over the pixels the loss counts (every pixel; the masked square), against the
//    same error of the corrupted input itself, i.e. of a network that changes nothing.
// The batches have the training batch's composition (pretext.batch images, the four turns of
// each slice together) and batch norm normalises with their statistics, as in training, while the
// moving averages stay untouched: a reading never changes the training run.
#include <vector>

#include "experiments/batches.h"
#include "io/datasets/slices.h"
#include "io/rng.h"
#include "nn/unet.h"

namespace cs {

struct PretextProbeReading {
  double score = 0;      // rotation: accuracy; restoration, inpainting: mean squared error
  double reference = 0;  // rotation: chance, 0.25; restoration, inpainting: the corrupted input's error
};

class PretextProbe {
 public:
  static constexpr int kMaxSlices = 64;

  // held_out: volumes of the model's image size (at least one slice in all). Up to max_slices of
  // their slices, drawn without replacement with rng, in whole batches where there are enough.
  PretextProbe(const std::vector<SliceStack>& held_out, const Settings& settings, Rng rng, Device device,
               int max_slices = kMaxSlices);

  PretextProbeReading read(UNet& model);
  int slices() const { return slices_; }
  PretextTask task() const { return task_; }

  // For pictures (pretext_pictures.h): the batches as drawn, the same at every reading, and what
  // the network makes of batch b, run as read() runs it (no tape, batch statistics, the moving
  // averages untouched): the turn's logits [images][4] or the restored images [images][side][side].
  const std::vector<PretextBatch>& batches() const { return batches_; }
  std::vector<float> output(UNet& model, size_t b);

 private:
  PretextTask task_;
  int slices_ = 0;
  std::vector<PretextBatch> batches_;  // on the host, for the scores
  std::vector<Tensor> inputs_;         // their inputs [images, side, side, 1] on the device
};

}  // namespace cs
