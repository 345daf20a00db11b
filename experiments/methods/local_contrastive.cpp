// The stage-2 methods L^R and L^D (docs/method.md §3): decoder blocks 1..l and g2 trained with a
// local contrastive loss on the frozen stage-1 encoder.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/methods/steps.h"
#include "losses/local.h"

namespace cs {

namespace {

// ---- stage 2: frozen encoder, decoder blocks 1..l + g2, the local loss.

int local_images(const LocalSettings& local) { return local.loss == LocalLossKind::LR ? 2 * local.batch : kLdImages; }

class LocalStep final : public StageStep {
 public:
  LocalStep(const Settings& settings, UNet& model, const std::vector<SliceStack>& stacks)
      : StageStep(Stage::Local, settings, model, local_images(settings.local), stacks),
        blocks_(settings.local.blocks),
        opt_(local_options(settings)),
        layout_(cs::slot_layout(opt_.kind, settings.local.batch)),
        loss_(opt_, local_images(settings.local), model.config().image_size >> (5 - blocks_), model.device()),
        encoder_mode_(local_encoder_mode(opt_.mode)) {}

  std::string description() const override {
    return fmt::format("{} on decoder blocks 1..{}, {}x{} regions, {} mode, {} negative table, {} images",
                       local_loss_name(opt_.kind), blocks_, opt_.region_size, opt_.region_size, compat_name(opt_.mode),
                       negative_table_name(loss_.table().table), images_per_step());
  }

  StepBatch sample(int step) override {
    Rng rng = step_rng(settings_, Stage::Local, step);
    return {draw_views(layout_, opt_.mode, rng), Tensor()};
  }

  const SlotLayout* slot_layout() const override { return &layout_; }

  Tensor loss(const StepBatch& b) override {
    EncoderOutput enc;
    {
      NoGradGuard frozen;  // nothing upstream of the decoder needs a gradient
      enc = model_.encoder(b.images, encoder_mode_);
    }
    const RunMode m = RunMode::training();
    Tensor g = model_.g2(model_.decoder_blocks(enc, blocks_, m), m);
    return loss_(g, opt_.region_size == 3 ? model_.g2_pred_weight() : Tensor());
  }

 private:
  int blocks_;
  LocalLossOptions opt_;
  SlotLayout layout_;  // the batch the loss expects, drawn and rendered each step
  LocalContrastiveLoss loss_;
  RunMode encoder_mode_;
};

}  // namespace

std::unique_ptr<StageStep> make_local_contrastive_step(const Settings& settings, UNet& model,
                                                       const std::vector<SliceStack>& stacks) {
  model.params().freeze("enc_");  // before Adam: the encoder comes from stage 1 and stays frozen (§3.1)
  return std::make_unique<LocalStep>(settings, model, stacks);
}

}  // namespace cs
