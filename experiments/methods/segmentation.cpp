// The fine-tuning methods (docs/method.md §4): the whole UNet trained on augmented labelled slices
// with the Dice loss (with or without the background) or weighted cross-entropy.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/methods/steps.h"
#include "io/augmentation/augment.h"
#include "io/augmentation/sampler.h"
#include "losses/segmentation.h"

namespace cs {

namespace {

// ---- fine-tuning: the whole UNet, Dice (or weighted cross-entropy) on augmented labelled slices.

// Labels are class indices below C: preprocess_volume checks every label file as it enters. The
// check here is cheap and keeps a broken invariant from writing outside y.
std::vector<float> one_hot(const std::vector<uint8_t>& labels, int C) {
  std::vector<float> y(labels.size() * C, 0.f);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= C)
      throw std::logic_error(fmt::format("one_hot: label {} at pixel {} is not below the {} classes", labels[i], i, C));
    y[i * C + labels[i]] = 1.f;
  }
  return y;
}

class FinetuneStep final : public StageStep {
 public:
  FinetuneStep(const Settings& settings, UNet& model, const std::vector<SliceStack>& stacks)
      : StageStep(Stage::Finetune, settings, model, settings.finetune.batch, stacks),
        mode_(settings.run.compat),
        loss_kind_(settings.finetune.loss),
        class_weights_(loss_kind_ == FinetuneLoss::WeightedCrossEntropy
                           ? default_class_weights(model.config().num_classes)
                           : std::vector<float>{}) {
    aug_.affine = aug_.deform = settings.finetune.augment;
    if (images_per_step() < 3) aug_.deform = false;
    for (const SliceStack& s : stacks)
      if (!s.has_labels()) throw std::invalid_argument("finetune: a slice stack without labels");
  }

  std::string description() const override {
    return fmt::format("{} loss, {} mode, {} images{}", finetune_loss_name(loss_kind_), compat_name(mode_), images_per_step(),
                       aug_.affine || aug_.deform ? ", augmented" : "");
  }

  StepBatch sample(int step) override {
    Rng rng = step_rng(settings_, Stage::Finetune, step);
    const int B = images_per_step(), s = model_.config().image_size, C = model_.config().num_classes;
    const size_t pixels = static_cast<size_t>(B) * s * s;
    imgs_.resize(pixels);
    lbls_.resize(pixels);
    gather_slices(stacks_, sample_uniform_slices(counts_, B, rng), imgs_.data(), lbls_.data());
    const Device d = model_.device();
    if (!aug_.affine && !aug_.deform)
      return {image_batch(imgs_, B, s, s, d), Tensor::from_vector({B, s, s, C}, one_hot(lbls_, C), d)};
    aug_imgs_.resize(pixels);
    soft_.resize(pixels * C);
    augment_finetune(imgs_.data(), lbls_.data(), B, s, s, C, mode_, aug_, rng, aug_imgs_.data(), soft_.data());
    return {image_batch(aug_imgs_, B, s, s, d), Tensor::from_vector({B, s, s, C}, soft_, d)};
  }

  Tensor loss(const StepBatch& b) override {
    Tensor logits = model_.forward(b.images, RunMode::training());
    if (loss_kind_ == FinetuneLoss::WeightedCrossEntropy) return weighted_cross_entropy(logits, b.labels, class_weights_);
    return dice_loss(logits, b.labels, loss_kind_ == FinetuneLoss::Dice);
  }

 private:
  Compat mode_;
  FinetuneLoss loss_kind_;
  std::vector<float> class_weights_;
  FinetuneAugOptions aug_;
  std::vector<float> imgs_, aug_imgs_, soft_;
  std::vector<uint8_t> lbls_;
};

}  // namespace

std::unique_ptr<StageStep> make_segmentation_step(const Settings& settings, UNet& model,
                                                  const std::vector<SliceStack>& stacks) {
  return std::make_unique<FinetuneStep>(settings, model, stacks);
}

}  // namespace cs
