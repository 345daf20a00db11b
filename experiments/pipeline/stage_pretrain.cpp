// Stages 1 and 2: global contrastive pre-training of the encoder (docs/method.md §2) and local contrastive
// pre-training of the first l decoder blocks on the frozen encoder (§3).
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
#include "io/augment.h"
#include "io/sampler.h"
#include "losses/global.h"
#include "losses/local.h"
#include "nn/checkpoint.h"

namespace cs {
namespace {

// The sampler's batch for one step of stage 1.
BatchLayout global_batch(GlobalLossKind kind, Mode mode, const std::vector<int>& counts, const Config& cfg,
                         Rng& rng) {
  if (kind == GlobalLossKind::GR) return layout_gr(counts, cfg.integer("global.batch"), rng);
  if (mode == Mode::Reference)
    return kind == GlobalLossKind::GD ? layout_gd_reference(counts, rng) : layout_gd_minus_reference(counts, rng);
  return layout_global_paper(counts, cfg.integer("global.volumes"), cfg.integer("global.partitions"), rng);
}

// Where each sampler slot goes among the loss's rows. The reference layouts and G^R are built
// slot for slot as the loss expects them; the paper layout lists a volume's views one after the
// other ([p0..pS-1 view 0, p0..pS-1 view 1]) while the loss orders rows ((v*S)+s)*2 + view.
std::vector<int> loss_rows(const BatchLayout& layout, GlobalLossKind kind, Mode mode) {
  std::vector<int> rows(layout.size());
  if (kind == GlobalLossKind::GR || mode == Mode::Reference) {
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
    return rows;
  }
  const int S = layout.partitions;
  std::map<int, int> local;  // dataset volume -> batch volume, in order of appearance
  for (size_t i = 0; i < layout.size(); ++i) {
    const BatchSlot& s = layout.slots[i];
    const int v = local.emplace(s.volume, static_cast<int>(local.size())).first->second;
    rows[i] = ((v * S) + s.partition) * 2 + (s.view > 0 ? 1 : 0);
  }
  return rows;
}

// The crop of docs/method.md §2.8 (100x100 window, corner in [10, 69]) is defined for 192 and 160 inputs; other
// sizes (the demo's) keep the same proportions of a 192 image.
CropConfig crop_for_size(int size) {
  CropConfig c;
  if (size == 192 || size == 160) return c;
  const double f = size / 192.0;
  c.box = std::max(1, static_cast<int>(std::lround(100 * f)));
  c.lo = static_cast<int>(std::lround(10 * f));
  c.hi = static_cast<int>(std::lround(69 * f));
  return c;
}

SlotLayout loss_layout(GlobalLossKind kind, Mode mode, const Config& cfg) {
  const Compat c = mode == Mode::Paper ? Compat::Paper : Compat::Reference;
  const int n = kind == GlobalLossKind::GR ? cfg.integer("global.batch") : cfg.integer("global.volumes");
  return global_layout(kind, c, n, cfg.integer("global.partitions"));
}

}  // namespace

void run_pretrain_global(const Config& cfg, const StageOptions& opt) {
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  const Mode mode = parse_mode(cfg.str("compat"));
  const GlobalLossKind kind = parse_global_loss(cfg.str("global.loss"));
  DataSource data(cfg);
  RunFolder run(opt.out, cfg, "pretrain-global", opt.command_line, opt.existing);
  if (run.finished()) {
    std::printf("pretrain-global: %s is finished; nothing to train\n", opt.out.c_str());
    return;
  }
  run.log_line(fmt::format("pretrain-global: {} ({} mode), tau {}, {} iterations", global_loss_name(kind),
                           mode_name(mode), cfg.real("global.tau"), cfg.integer("global.iterations")));
  const auto cases = data.prepare(data.splits().pretrain_pool(), false, false, "pre-training pool");
  const auto stacks = stacks_of(cases);
  const auto counts = slice_counts(stacks);
  const int h = data.params().out_h, w = data.params().out_w;

  auto model = make_model(cfg, "global", dev);
  Adam adam(model->params(), AdamConfig{static_cast<float>(cfg.real("lr"))});
  const SlotLayout layout = loss_layout(kind, mode, cfg);
  GlobalContrastiveLoss loss_fn(kind, mode == Mode::Paper ? Compat::Paper : Compat::Reference, layout,
                                static_cast<float>(cfg.real("global.tau")), dev);
  const int n = static_cast<int>(layout.size());

  LoopSpec spec;
  spec.stage = "pretrain-global";
  spec.iterations = cfg.integer("global.iterations");
  spec.images_per_step = n;
  std::vector<float> rendered, ordered(static_cast<size_t>(n) * h * w);
  const CropConfig crop = crop_for_size(h);
  spec.step = [&](int step) {
    Rng rng = step_rng(cfg, "global", step);
    const BatchLayout batch = global_batch(kind, mode, counts, cfg, rng);
    if (static_cast<int>(batch.size()) != n)
      throw std::logic_error(fmt::format("sampler gave {} slots, the loss expects {}", batch.size(), n));
    rendered.resize(batch.size() * h * w);
    render_views(batch, stacks, mode, rng, rendered.data(), nullptr, crop);
    const auto rows = loss_rows(batch, kind, mode);
    for (int i = 0; i < n; ++i)
      std::copy_n(rendered.data() + static_cast<size_t>(i) * h * w, h * w,
                  ordered.data() + static_cast<size_t>(rows[i]) * h * w);
    Tensor x = image_batch(ordered, n, h, w, dev);
    model->params().zero_grad();
    const RunMode m = RunMode::training();
    EncoderOutput enc = model->encoder(x, m);
    Tensor loss = loss_fn(model->g1(enc.bottleneck, m));
    backward(loss);
    adam.step();
    return static_cast<double>(loss.to_vector()[0]);
  };
  run_loop(cfg, run, *model, adam, spec, run.resuming(), opt.quiet);
  run.log_line("pretrain-global: done, " + run.checkpoint("final"));
}

void run_pretrain_local(const Config& cfg, const StageOptions& opt) {
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  const Mode mode = parse_mode(cfg.str("compat"));
  if (opt.init.empty()) throw std::invalid_argument("pretrain-local needs --init <pretrain-global run folder>");
  check_init_matches(load_run_config(opt.init, {"pretrain-global"}), cfg, opt.init);
  LocalLossOptions lopt;
  lopt.kind = parse_local_loss(cfg.str("local.loss"));
  lopt.region_size = cfg.integer("local.region");
  lopt.tau = static_cast<float>(cfg.real("local.tau"));
  lopt.compat = mode == Mode::Paper ? Compat::Paper : Compat::Reference;  // the 1x1 negative table
  const int l = cfg.integer("local.blocks");
  DataSource data(cfg);
  RunFolder run(opt.out, cfg, "pretrain-local", opt.command_line, opt.existing, opt.init);
  if (run.finished()) {
    std::printf("pretrain-local: %s is finished; nothing to train\n", opt.out.c_str());
    return;
  }
  run.log_line(fmt::format("pretrain-local: {} on decoder blocks 1..{}, {}x{} regions ({} mode, {} negative "
                           "table), {} iterations",
                           local_loss_name(lopt.kind), l, lopt.region_size, lopt.region_size, mode_name(mode),
                           negative_table_name(negative_table_for(lopt.compat, lopt.region_size)),
                           cfg.integer("local.iterations")));
  const auto cases = data.prepare(data.splits().pretrain_pool(), false, false, "pre-training pool");
  const auto stacks = stacks_of(cases);
  const auto counts = slice_counts(stacks);
  const int h = data.params().out_h, w = data.params().out_w;

  auto model = make_model(cfg, "local", dev);
  // The encoder comes from stage 1 and stays frozen (docs/method.md §3.1). Its BN statistics are loaded
  // too: paper mode normalises the frozen encoder with them.
  CheckpointLoadOptions lo;
  lo.include = {"enc_"};
  lo.buffers = true;
  load_checkpoint(opt.init + "/checkpoints/final.safetensors", model->params(), lo);
  model->params().freeze("enc_");
  Adam adam(model->params(), AdamConfig{static_cast<float>(cfg.real("lr"))});

  const int images = lopt.kind == LocalLossKind::LR ? 2 * cfg.integer("local.batch") : 24;
  const int side = h >> (5 - l);
  LocalContrastiveLoss loss_fn(lopt, images, side, dev);
  // paper: the frozen encoder normalises with its stage-1 statistics; reference: batch
  // statistics, and its moving averages keep updating (docs/method.md §3.1).
  const RunMode enc_mode = mode == Mode::Paper ? RunMode::frozen_encoder_bn() : RunMode::training();

  LoopSpec spec;
  spec.stage = "pretrain-local";
  spec.iterations = cfg.integer("local.iterations");
  spec.images_per_step = images;
  std::vector<float> rendered;
  spec.step = [&](int step) {
    Rng rng = step_rng(cfg, "local", step);
    const BatchLayout batch = lopt.kind == LocalLossKind::LR ? layout_lr(counts, cfg.integer("local.batch"), rng)
                                                             : layout_ld(counts, rng);
    rendered.resize(batch.size() * h * w);
    render_views(batch, stacks, mode, rng, rendered.data());
    Tensor x = image_batch(rendered, static_cast<int>(batch.size()), h, w, dev);
    model->params().zero_grad();
    EncoderOutput enc;
    {
      NoGradGuard frozen;  // nothing upstream of the decoder needs a gradient
      enc = model->encoder(x, enc_mode);
    }
    Tensor feat = model->decoder_blocks(enc, l, RunMode::training());
    Tensor g = model->g2(feat, RunMode::training());
    Tensor loss = loss_fn(g, lopt.region_size == 3 ? model->g2_pred_weight() : Tensor());
    backward(loss);
    adam.step();
    return static_cast<double>(loss.to_vector()[0]);
  };
  run_loop(cfg, run, *model, adam, spec, run.resuming(), opt.quiet);
  run.log_line("pretrain-local: done, " + run.checkpoint("final"));
}

}  // namespace cs
