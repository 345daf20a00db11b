// `contraseg profile`: where the time of a training step goes, per op and per phase.
#include <cstdio>

#include <fmt/format.h>

#include "autograd/allocator.h"
#include "autograd/tape.h"
#include "experiments/cli/cli.h"
#include "experiments/pipeline/config.h"
#include "experiments/profile/profiler.h"
#include "experiments/pipeline/training.h"
#include "io/augment.h"
#include "io/sampler.h"
#include "losses/global.h"
#include "losses/local.h"
#include "losses/segmentation.h"

namespace cs {
namespace {

// Random slice stacks standing in for a dataset: the profile measures compute, not disk.
std::vector<SliceStack> random_stacks(int volumes, int slices, int size, int classes, Rng& rng) {
  std::vector<SliceStack> s;
  for (int v = 0; v < volumes; ++v) {
    SliceStack st(slices, size, size, true);
    for (auto& x : st.image) x = static_cast<float>(rng.uniform());
    for (auto& y : st.label) y = static_cast<uint8_t>(rng.uniform_int(0, classes - 1));
    s.push_back(std::move(st));
  }
  return s;
}

CommandSpec profile_spec() {
  return {"profile", "time a stage's training step per op and per phase",
          "contraseg profile [--config CFG] [--stage pretrain-global|pretrain-local|finetune] [--steps N]",
          "Runs N training steps of a stage on random data of the configured size and prints, per op,\n"
          "calls, forward and backward ms per step, share of the step and achieved GFLOP/s (convolutions\n"
          "and dense layers), then the phases (data, forward, backward, optimizer). On the GPU each op is\n"
          "timed alone (the stream is synchronised around it) and carries an NVTX range of its name.\n",
          {option("config", "FILE", "JSON config (experiments/configs/*.json); defaults otherwise"),
           repeatable("set", "KEY=VALUE", "override one config key; `contraseg config` lists the keys"),
           choice("stage", {"pretrain-global", "pretrain-local", "finetune"}, "the stage (default finetune)"),
           option("steps", "N", "timed steps (default 5)"),
           option("warmup", "N", "untimed steps first (default 1)"),
           option("batch", "N", "override the stage's batch size"),
           choice("device", config_choices("device"), "same as --set device=...")}};
}

int cmd_profile(const Args& a) {
  const Config cfg = resolve_config(a);
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  const std::string stage = a.get("stage", "finetune");
  const int steps = a.get_int("steps", 5), warmup = a.get_int("warmup", 1);
  const Mode mode = parse_mode(cfg.str("compat"));
  const std::string model_stage = stage == "pretrain-global" ? "global" : stage == "pretrain-local" ? "local" : "finetune";
  auto model = make_model(cfg, model_stage, dev);
  const int S = model->config().image_size, C = model->config().num_classes;
  Rng rng(1);
  const auto stacks = random_stacks(8, 12, S, C, rng);
  const auto counts = slice_counts(stacks);
  Adam adam(model->params(), AdamConfig{static_cast<float>(cfg.real("lr"))});
  if (model_stage == "local") model->params().freeze("enc_");

  std::unique_ptr<GlobalContrastiveLoss> gloss;
  std::unique_ptr<LocalContrastiveLoss> lloss;
  int batch = 0;
  const int l = cfg.integer("local.blocks");
  if (model_stage == "global") {
    const int V = a.get_int("batch", cfg.integer("global.volumes") * cfg.integer("global.partitions") * 2) /
                  (2 * cfg.integer("global.partitions"));
    gloss = std::make_unique<GlobalContrastiveLoss>(GlobalLossKind::GD, Compat::Paper,
                                                    paper_partition_layout(V, cfg.integer("global.partitions")),
                                                    static_cast<float>(cfg.real("global.tau")), dev);
    batch = static_cast<int>(gloss->layout().size());
  } else if (model_stage == "local") {
    batch = a.get_int("batch", 2 * cfg.integer("local.batch"));
    LocalLossOptions lo;
    lo.region_size = cfg.integer("local.region");
    lloss = std::make_unique<LocalContrastiveLoss>(lo, batch, S >> (5 - l), dev);
  } else {
    batch = a.get_int("batch", cfg.integer("finetune.batch"));
  }

  Profiler prof(dev);
  std::vector<float> imgs(static_cast<size_t>(batch) * S * S), out_imgs(imgs.size()),
      soft(imgs.size() * C);
  std::vector<uint8_t> lbls(imgs.size());
  auto step = [&](int s) {
    Rng r = Rng(7).split(static_cast<uint64_t>(s));
    prof.phase_begin("data");
    Tensor x, y;
    if (model_stage == "finetune") {
      const auto refs = sample_uniform_slices(counts, batch, r);
      gather_slices(stacks, refs, imgs.data(), lbls.data());
      augment_finetune(imgs.data(), lbls.data(), batch, S, S, C, mode, {}, r, out_imgs.data(), soft.data());
      x = image_batch(out_imgs, batch, S, S, dev);
      y = Tensor::from_vector({batch, S, S, C}, soft, dev);
    } else {
      const BatchLayout b = model_stage == "global"
                                ? layout_global_paper(counts, batch / (2 * cfg.integer("global.partitions")),
                                                      cfg.integer("global.partitions"), r)
                                : layout_lr(counts, batch / 2, r);
      render_views(b, stacks, mode, r, imgs.data());
      x = image_batch(imgs, batch, S, S, dev);
    }
    prof.phase_end("data");
    prof.phase_begin("forward");
    model->params().zero_grad();
    Tensor loss;
    const RunMode m = RunMode::training();
    if (model_stage == "finetune") {
      loss = dice_loss(model->forward(x, m), y);
    } else if (model_stage == "global") {
      loss = (*gloss)(model->g1(model->encoder(x, m).bottleneck, m));
    } else {
      EncoderOutput enc;
      {
        NoGradGuard g;
        enc = model->encoder(x, RunMode::frozen_encoder_bn());
      }
      loss = (*lloss)(model->g2(model->decoder_blocks(enc, l, m), m),
                      cfg.integer("local.region") == 3 ? model->g2_pred_weight() : Tensor());
    }
    prof.phase_end("forward");
    prof.phase_begin("backward");
    backward(loss);
    prof.phase_end("backward");
    prof.phase_begin("optimizer");
    adam.step();
    prof.phase_end("optimizer");
    return loss.to_vector()[0];
  };
  std::printf("profile: %s, batch %d, %dx%d, %s, %d steps after %d warm-up\n", stage.c_str(), batch, S, S,
              device_description(dev).c_str(), steps, warmup);
  for (int s = 0; s < warmup; ++s) step(s);
  prof.reset();
  const auto allocs0 = allocator_stats(dev).device_allocs;
  for (int s = 0; s < steps; ++s) step(warmup + s);
  std::printf("%s", prof.report(steps).c_str());
  std::printf("allocations from the system during the timed steps: %llu\n",
              static_cast<unsigned long long>(allocator_stats(dev).device_allocs - allocs0));
  return 0;
}

}  // namespace

CS_COMMAND(profile_spec(), cmd_profile);

}  // namespace cs
