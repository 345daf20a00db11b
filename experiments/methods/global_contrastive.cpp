// The stage-1 methods G^R, G^D- and G^D (docs/method.md §2): the encoder and g1 trained with a
// global contrastive loss over a batch drawn in the loss's slot layout.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/methods/steps.h"
#include "losses/global.h"

namespace cs {

namespace {

// ---- stage 1: encoder + g1, the global loss over the sampler's batch (rows in the loss's order).

// The crop of docs/method.md §2.8 (100x100 window, corner in [10, 69]) is defined for 192 and 160
// inputs; other sizes (the demo's) keep the same proportions of a 192 image.
CropConfig crop_for_size(int size) {
  CropConfig c;
  if (size == 192 || size == 160) return c;
  const double f = size / 192.0;
  c.box = std::max(1, static_cast<int>(std::lround(100 * f)));
  c.lo = static_cast<int>(std::lround(10 * f));
  c.hi = static_cast<int>(std::lround(69 * f));
  return c;
}

GlobalContrastiveLoss global_loss(const Settings& settings, Device d) {
  const GlobalSettings& g = settings.global;
  const Compat mode = settings.run.compat;
  const int n = g.loss == GlobalLossKind::GR ? g.batch : g.volumes;
  return GlobalContrastiveLoss(g.loss, mode, slot_layout(g.loss, mode, n, g.partitions), static_cast<float>(g.tau),
                               d);
}

class GlobalStep final : public StageStep {
 public:
  GlobalStep(const Settings& settings, UNet& model, const std::vector<SliceStack>& stacks, GlobalContrastiveLoss loss)
      : StageStep(Stage::Global, settings, model, static_cast<int>(loss.layout().size()), stacks),
        loss_(std::move(loss)),
        crop_(crop_for_size(model.config().image_size)) {}

  std::string description() const override {
    return fmt::format("{}, {} mode, tau {}, {} images", global_loss_name(loss_.kind()), compat_name(loss_.mode()),
                       loss_.tau(), images_per_step());
  }

  StepBatch sample(int step) override {
    Rng rng = step_rng(settings_, Stage::Global, step);
    return {draw_views(loss_.layout(), loss_.mode(), rng, crop_), Tensor()};  // the loss's rows, in its order
  }

  Tensor loss(const StepBatch& b) override {
    const RunMode m = RunMode::training();
    return loss_(model_.g1(model_.encoder(b.images, m).bottleneck, m));
  }

  const SlotLayout* slot_layout() const override { return &loss_.layout(); }

  ContrastRows contrast_rows(const StepBatch& b) override {
    NoGradGuard no_grad;
    RunMode m = RunMode::training();
    m.bn_decay = 1.f;  // running = 1 * running + 0 * batch: untouched
    return {model_.g1(model_.encoder(b.images, m).bottleneck, m).to_vector(), &loss_.spec()};
  }

 private:
  GlobalContrastiveLoss loss_;
  CropConfig crop_;
};

}  // namespace

std::unique_ptr<StageStep> make_global_contrastive_step(const Settings& settings, UNet& model,
                                                        const std::vector<SliceStack>& stacks) {
  return std::make_unique<GlobalStep>(settings, model, stacks, global_loss(settings, model.device()));
}

}  // namespace cs
