// What the steps of all methods share (see stage_step.h); the steps themselves are the methods'
// files beside this one (registry.cpp lists them).
#include "experiments/methods/stage_step.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/batches.h"
#include "experiments/methods/registry.h"

namespace cs {

namespace {

// The name of a stage's sampling stream (kept as the seeds were first cut).
const char* stream_name(Stage s) {
  switch (s) {
    case Stage::Global: return "global";
    case Stage::Local: return "local";
    case Stage::Finetune: return "finetune";
    case Stage::Pretext: return "pretext";
  }
  return "?";
}

// The seed of a stage's initial weights. The method's three stages keep the seeds they were first
// cut with (seed * 3 + stage); the pretext stage draws its own from the seed and its name, so that
// its weights never start as another stage's do under another seed (seed * 3 + 3 would be stage 1's
// of seed + 1).
uint64_t init_seed(const Settings& settings, Stage s) {
  const uint64_t seed = static_cast<uint64_t>(settings.run.seed);
  if (s == Stage::Pretext) return Rng(seed).split("pretext-init").next_u64();
  return mix64(seed * 3 + static_cast<uint64_t>(s));
}

}  // namespace

Tensor image_batch(const std::vector<float>& images, int n, int h, int w, Device d) {
  return Tensor::from_vector({n, h, w, 1}, images, d);  // [n][h][w] -> [n, h, w, 1]
}

UNetConfig unet_config(const Settings& settings, Stage s) {
  const PreprocessParams& p = settings.data.params;
  const std::string& dataset = settings.data.dataset;
  UNetConfig u;
  switch (s) {
    case Stage::Global: u = UNetConfig::stage1(dataset); break;
    case Stage::Local: u = UNetConfig::stage2(dataset, settings.local.blocks, settings.local.region == 3); break;
    case Stage::Finetune: u = UNetConfig::for_dataset(dataset); break;
    case Stage::Pretext:  // rotation trains the encoder alone; the reconstructions the whole U-Net
      u = settings.pretext.task == PretextTask::Rotation ? UNetConfig::rotation(dataset)
                                                         : UNetConfig::restoration(dataset);
      break;
  }
  u.image_size = p.out_h;
  u.num_classes = p.num_classes;
  u.validate();
  return u;
}

std::unique_ptr<UNet> make_model(const Settings& settings, Stage s, Device d) {
  InitOptions init;
  init.seed = init_seed(settings, s);
  init.same_init_for_same_shape = settings.run.compat == Compat::Reference;
  return std::make_unique<UNet>(unet_config(settings, s), d, init);
}

Rng step_rng(const Settings& settings, Stage s, int step) {
  return Rng(static_cast<uint64_t>(settings.run.seed)).split(stream_name(s)).split(static_cast<uint64_t>(step));
}

StageStep::StageStep(Stage stage, const Settings& settings, UNet& model, int images,
                     const std::vector<SliceStack>& stacks)
    : settings_(settings),
      model_(model),
      stacks_(stacks),
      counts_(slice_counts(stacks)),
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

Tensor StageStep::draw_views(const SlotLayout& layout, Compat mode, Rng& rng, const CropConfig& crop) {
  const DrawnBatch batch = draw_batch(layout, counts_, rng);
  const int n = static_cast<int>(batch.size()), s = model_.config().image_size;
  rendered_.resize(static_cast<size_t>(n) * s * s);
  render_views(layout, batch, stacks_, mode, rng, rendered_.data(), nullptr, crop);
  return image_batch(rendered_, n, s, s, model_.device());
}

double StageStep::run(int step, StepPhases* phases) {
  if (phases) phases->phase_begin("data");
  const StepBatch b = sample(step);
  if (phases) phases->phase_end("data");
  return train(b, phases);
}


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
  return selected_method(stage, settings).make_step(settings, model, stacks);
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
