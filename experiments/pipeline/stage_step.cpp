// The three stage steps (see stage_step.h): stage 1 (docs/method.md §2), stage 2 (§3) and
// fine-tuning (§4).
#include "experiments/pipeline/stage_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/batches.h"
#include "experiments/pipeline/data.h"
#include "io/augmentation/augment.h"
#include "autograd/compat.h"
#include "io/augmentation/sampler.h"
#include "losses/global.h"
#include "losses/local.h"
#include "losses/segmentation.h"

namespace cs {

namespace {

// The name of a stage's initialisation and sampling streams (kept as the seeds were first cut).
const char* stream_name(Stage s) { return s == Stage::Global ? "global" : s == Stage::Local ? "local" : "finetune"; }

Tensor image_batch(const std::vector<float>& images, int n, int h, int w, Device d) {
  return Tensor::from_vector({n, h, w, 1}, images, d);  // [n][h][w] -> [n, h, w, 1]
}

}  // namespace

UNetConfig unet_config(const Settings& settings, Stage s) {
  const PreprocessParams& p = settings.data.params;
  const std::string& dataset = settings.data.dataset;
  UNetConfig u;
  if (s == Stage::Global)
    u = UNetConfig::stage1(dataset);
  else if (s == Stage::Local)
    u = UNetConfig::stage2(dataset, settings.local.blocks, settings.local.region == 3);
  else
    u = UNetConfig::for_dataset(dataset);
  u.image_size = p.out_h;
  u.num_classes = p.num_classes;
  u.validate();
  return u;
}

std::unique_ptr<UNet> make_model(const Settings& settings, Stage s, Device d) {
  InitOptions init;
  init.seed = mix64(static_cast<uint64_t>(settings.run.seed) * 3 + static_cast<uint64_t>(s));
  init.same_init_for_same_shape = settings.run.compat == Compat::Reference;
  return std::make_unique<UNet>(unet_config(settings, s), d, init);
}

Rng step_rng(const Settings& settings, Stage s, int step) {
  return Rng(static_cast<uint64_t>(settings.run.seed)).split(stream_name(s)).split(static_cast<uint64_t>(step));
}

StageStep::StageStep(Stage stage, const Settings& settings, UNet& model, int images)
    : settings_(settings),
      model_(model),
      stage_(stage),
      images_(images),
      precision_(settings.run.precision),
      adam_(model.params(), AdamConfig{static_cast<float>(settings.learning_rate(stage))}) {}

double StageStep::train(const StepBatch& batch, StepPhases* phases) {
  auto begin = [&](const char* p) { if (phases) phases->phase_begin(p); };
  auto end = [&](const char* p) { if (phases) phases->phase_end(p); };
  begin("forward");
  model_.params().zero_grad();
  Tensor l;
  {
    const PrecisionScope precision(precision_);  // the tape nodes keep it for the backward
    l = loss(batch);
  }
  end("forward");
  begin("backward");
  backward(l);
  end("backward");
  begin("optimizer");
  adam_.step();
  end("optimizer");
  return static_cast<double>(l.to_vector()[0]);
}

double StageStep::run(int step, StepPhases* phases) {
  if (phases) phases->phase_begin("data");
  const StepBatch b = sample(step);
  if (phases) phases->phase_end("data");
  return train(b, phases);
}

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
      : StageStep(Stage::Global, settings, model, static_cast<int>(loss.layout().size())),
        stacks_(stacks),
        counts_(slice_counts(stacks)),
        loss_(std::move(loss)),
        crop_(crop_for_size(model.config().image_size)) {}

  std::string description() const override {
    return fmt::format("{}, {} mode, tau {}, {} images", global_loss_name(loss_.kind()), compat_name(loss_.mode()),
                       loss_.tau(), images_per_step());
  }

  StepBatch sample(int step) override {
    Rng rng = step_rng(settings_, Stage::Global, step);
    const DrawnBatch batch = draw_batch(loss_.layout(), counts_, rng);  // the loss's rows, in its order
    const int n = static_cast<int>(batch.size()), s = model_.config().image_size;
    rendered_.resize(static_cast<size_t>(n) * s * s);
    render_views(loss_.layout(), batch, stacks_, loss_.mode(), rng, rendered_.data(), nullptr, crop_);
    return {image_batch(rendered_, n, s, s, model_.device()), Tensor()};
  }

  Tensor loss(const StepBatch& b) override {
    const RunMode m = RunMode::training();
    return loss_(model_.g1(model_.encoder(b.images, m).bottleneck, m));
  }

  ContrastRows contrast_rows(const StepBatch& b) override {
    NoGradGuard no_grad;
    RunMode m = RunMode::training();
    m.bn_decay = 1.f;  // running = 1 * running + 0 * batch: untouched
    return {model_.g1(model_.encoder(b.images, m).bottleneck, m).to_vector(), &loss_.spec()};
  }

 private:
  const std::vector<SliceStack>& stacks_;
  std::vector<int> counts_;
  GlobalContrastiveLoss loss_;
  CropConfig crop_;
  std::vector<float> rendered_;
};

// ---- stage 2: frozen encoder, decoder blocks 1..l + g2, the local loss.

int local_images(const LocalSettings& local) { return local.loss == LocalLossKind::LR ? 2 * local.batch : kLdImages; }

class LocalStep final : public StageStep {
 public:
  LocalStep(const Settings& settings, UNet& model, const std::vector<SliceStack>& stacks)
      : StageStep(Stage::Local, settings, model, local_images(settings.local)),
        stacks_(stacks),
        counts_(slice_counts(stacks)),
        blocks_(settings.local.blocks),
        opt_(local_options(settings)),
        layout_(slot_layout(opt_.kind, settings.local.batch)),
        loss_(opt_, local_images(settings.local), model.config().image_size >> (5 - blocks_), model.device()),
        encoder_mode_(local_encoder_mode(opt_.mode)) {}

  std::string description() const override {
    return fmt::format("{} on decoder blocks 1..{}, {}x{} regions, {} mode, {} negative table, {} images",
                       local_loss_name(opt_.kind), blocks_, opt_.region_size, opt_.region_size, compat_name(opt_.mode),
                       negative_table_name(loss_.table().table), images_per_step());
  }

  StepBatch sample(int step) override {
    Rng rng = step_rng(settings_, Stage::Local, step);
    const DrawnBatch batch = draw_batch(layout_, counts_, rng);
    const int n = static_cast<int>(batch.size()), s = model_.config().image_size;
    rendered_.resize(static_cast<size_t>(n) * s * s);
    render_views(layout_, batch, stacks_, opt_.mode, rng, rendered_.data());
    return {image_batch(rendered_, n, s, s, model_.device()), Tensor()};
  }

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
  const std::vector<SliceStack>& stacks_;
  std::vector<int> counts_;
  int blocks_;
  LocalLossOptions opt_;
  SlotLayout layout_;  // the batch the loss expects, drawn and rendered each step
  LocalContrastiveLoss loss_;
  RunMode encoder_mode_;
  std::vector<float> rendered_;
};

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
      : StageStep(Stage::Finetune, settings, model, settings.finetune.batch),
        stacks_(stacks),
        counts_(slice_counts(stacks)),
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
  const std::vector<SliceStack>& stacks_;
  std::vector<int> counts_;
  Compat mode_;
  FinetuneLoss loss_kind_;
  std::vector<float> class_weights_;
  FinetuneAugOptions aug_;
  std::vector<float> imgs_, aug_imgs_, soft_;
  std::vector<uint8_t> lbls_;
};

}  // namespace

LocalLossOptions local_options(const Settings& settings) {
  LocalLossOptions o;
  o.kind = settings.local.loss;
  o.region_size = settings.local.region;
  o.tau = static_cast<float>(settings.local.tau);
  o.mode = settings.run.compat;  // with the region size, picks the negative table
  return o;
}

// paper: the frozen encoder normalises with its stage-1 statistics; reference: batch statistics,
// and its moving averages keep updating (docs/method.md §3.1).
RunMode local_encoder_mode(Compat mode) {
  return mode == Compat::Paper ? RunMode::frozen_encoder_bn() : RunMode::training();
}

StageStep::ContrastRows StageStep::contrast_rows(const StepBatch&) {
  throw std::logic_error(std::string(stage_name(stage_)) + ": the step has no contrastive loss to picture");
}

std::unique_ptr<StageStep> make_stage_step(Stage stage, const Settings& settings, UNet& model,
                                           const std::vector<SliceStack>& stacks) {
  if (stacks.empty()) throw std::invalid_argument(std::string(stage_name(stage)) + ": no volumes to sample from");
  switch (stage) {
    case Stage::Global:
      return std::make_unique<GlobalStep>(settings, model, stacks, global_loss(settings, model.device()));
    case Stage::Local:
      model.params().freeze("enc_");  // before Adam: the encoder comes from stage 1 and stays frozen (§3.1)
      return std::make_unique<LocalStep>(settings, model, stacks);
    case Stage::Finetune:
      return std::make_unique<FinetuneStep>(settings, model, stacks);
  }
  throw std::logic_error("make_stage_step: unknown stage");
}

void estimate_bn_statistics(StageStep& step, int last, int batches) {
  if (step.stage() != Stage::Finetune)
    throw std::invalid_argument("estimate_bn_statistics: for fine-tuning steps (the whole UNet) only");
  NoGradGuard no_tape;
  for (int i = 0; i < batches; ++i) {
    RunMode m = RunMode::training();
    m.bn_decay = static_cast<float>(i) / static_cast<float>(i + 1);  // the running mean of i + 1 batches
    step.model().forward(step.sample(std::max(0, last - i)).images, m);
  }
}

std::vector<SliceStack> random_stacks(int volumes, int slices, int size, int classes, uint64_t seed) {
  Rng rng(seed);
  std::vector<SliceStack> s;
  for (int v = 0; v < volumes; ++v) {
    SliceStack st(slices, size, size, true);
    for (auto& x : st.image) x = static_cast<float>(rng.uniform());
    for (auto& y : st.label) y = static_cast<uint8_t>(rng.uniform_int(0, classes - 1));
    s.push_back(std::move(st));
  }
  return s;
}

}  // namespace cs
