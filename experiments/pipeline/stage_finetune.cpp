// Stage 3 (docs/method.md §4): fine-tune the whole UNet with the Dice loss on a few labelled volumes, from
// pre-trained weights or from scratch, keeping the checkpoint with the best validation Dice.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/tape.h"
#include "experiments/cli/cli.h"
#include "experiments/pipeline/data.h"
#include "experiments/evaluation/inference.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
#include "io/augment.h"
#include "io/sampler.h"
#include "losses/segmentation.h"
#include "nn/checkpoint.h"

namespace cs {

Config load_run_config(const std::string& run_dir, const std::vector<std::string>& expected_stages,
                       const std::string& checkpoint, std::string* stage_out) {
  StoredRun run = read_stored_run(run_dir);
  if (std::find(expected_stages.begin(), expected_stages.end(), run.stage) == expected_stages.end()) {
    std::string want;
    for (const auto& s : expected_stages) want += (want.empty() ? "" : " or ") + s;
    throw std::runtime_error(run_dir + ": a '" + run.stage + "' run, expected a " + want + " run");
  }
  const std::string ck = run_dir + "/checkpoints/" + checkpoint + ".safetensors";
  if (!path_exists(ck))
    throw std::runtime_error(run_dir + ": incomplete run, " + ck + " is missing (did it finish?)");
  if (stage_out) *stage_out = run.stage;
  return run.config;
}

void check_init_matches(const Config& init, const Config& cfg, const std::string& init_dir) {
  for (const char* key : {"dataset", "image_size", "target_res"})
    if (init.str(key) != cfg.str(key))
      throw std::invalid_argument(fmt::format("--init {}: its {} is '{}', this run's is '{}'", init_dir, key,
                                              init.str(key), cfg.str(key)));
}

namespace {

struct FinetuneResult {
  double best_val_dice = 0;  // mean foreground Dice on the validation volumes, at the best step
  int best_step = -1;
};

std::vector<float> one_hot(const std::vector<uint8_t>& labels, int C) {
  std::vector<float> y(labels.size() * C, 0.f);
  for (size_t i = 0; i < labels.size(); ++i) y[i * C + labels[i]] = 1.f;
  return y;
}

double validation_dice(UNet& model, const std::vector<PreparedCase>& val, const PreprocessParams& p) {
  double sum = 0;
  int n = 0;
  for (const auto& c : val) {
    const Volume pred = predict_volume(model, c, p);
    const double d = case_metrics(c.id, pred, c.native_label, p.num_classes, false).foreground_dice;
    if (!std::isnan(d)) {
      sum += d;
      ++n;
    }
  }
  return n ? sum / n : 0.0;
}

}  // namespace

void run_finetune(const Config& cfg, const StageOptions& opt) {
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  const Mode mode = parse_mode(cfg.str("compat"));
  // The initialisation: which weights come from where (docs/method.md §1.8, §4.1).
  CheckpointLoadOptions lo;
  lo.buffers = false;  // BN moving averages start again (docs/method.md §4.1)
  std::string init_desc = "random initialisation";
  if (!opt.init.empty()) {
    std::string stage;
    const Config ic = load_run_config(opt.init, {"pretrain-global", "pretrain-local"}, "final", &stage);
    check_init_matches(ic, cfg, opt.init);
    lo.include = {"enc_"};
    init_desc = "encoder from " + opt.init;
    if (stage == "pretrain-local") {
      for (const auto& p : decoder_block_prefixes(ic.integer("local.blocks"))) lo.include.push_back(p);
      init_desc = fmt::format("encoder + decoder blocks 1..{} from {}", ic.integer("local.blocks"), opt.init);
    }
  }
  const std::string tr = cfg.str("finetune.labeled"), comb = cfg.str("finetune.comb");
  DataSource data(cfg);
  const IdList train_ids = data.splits().labeled(tr, comb);
  const IdList val_ids = data.splits().validation(tr, comb);
  RunFolder run(opt.out, cfg, "finetune", opt.command_line, opt.existing, opt.init);
  FinetuneResult result;
  // A resumed run continues from the best validation score it had reached.
  if (path_exists(run.checkpoint("best"))) {
    const auto md = read_checkpoint_metadata(run.checkpoint("best"));
    result.best_val_dice = std::stod(md.at("val_dice"));
    result.best_step = std::stoi(md.at("step")) + 1;
  }
  auto evaluate_once = [&] {
    if (path_exists(run.path("eval")))
      std::printf("finetune: %s holds its evaluation already (contraseg evaluate --overwrite replaces it)\n",
                  run.path("eval").c_str());
    else
      run_evaluate(cfg, opt.out, run.path("eval"));
  };
  if (run.finished()) {
    std::printf("finetune: %s is finished; nothing to train\n", opt.out.c_str());
    evaluate_once();
    return;
  }
  run.log_line(fmt::format("finetune: {} {} ({} volumes), {}, {} mode, {} iterations", tr, comb, train_ids.size(),
                           init_desc, mode_name(mode), cfg.integer("finetune.iterations")));
  const auto train = data.prepare(train_ids, true, false, "labelled volumes");
  const auto val = data.prepare(val_ids, true, true, "validation volumes");
  const auto stacks = stacks_of(train);
  const auto counts = slice_counts(stacks);
  const PreprocessParams& p = data.params();
  const int h = p.out_h, w = p.out_w, C = p.num_classes, B = cfg.integer("finetune.batch");

  auto model = make_model(cfg, "finetune", dev);
  if (!opt.init.empty()) load_checkpoint(opt.init + "/checkpoints/final.safetensors", model->params(), lo);
  Adam adam(model->params(), AdamConfig{static_cast<float>(cfg.real("lr"))});

  const std::string loss_name = cfg.str("finetune.loss");
  const auto class_weights = loss_name == "wce" ? default_class_weights(C) : std::vector<float>{};
  FinetuneAugOptions aug;
  aug.affine = aug.deform = cfg.boolean("finetune.augment");
  if (B < 3) aug.deform = false;

  LoopSpec spec;
  spec.stage = "finetune";
  spec.iterations = cfg.integer("finetune.iterations");
  spec.images_per_step = B;
  std::vector<float> imgs(static_cast<size_t>(B) * h * w), aug_imgs(imgs.size()),
      soft(static_cast<size_t>(B) * h * w * C);
  std::vector<uint8_t> lbls(static_cast<size_t>(B) * h * w);
  spec.step = [&](int step) {
    Rng rng = step_rng(cfg, "finetune", step);
    const auto refs = sample_uniform_slices(counts, B, rng);
    gather_slices(stacks, refs, imgs.data(), lbls.data());
    Tensor x, y;
    if (aug.affine || aug.deform) {
      augment_finetune(imgs.data(), lbls.data(), B, h, w, C, mode, aug, rng, aug_imgs.data(), soft.data());
      x = image_batch(aug_imgs, B, h, w, dev);
      y = Tensor::from_vector({B, h, w, C}, soft, dev);
    } else {
      x = image_batch(imgs, B, h, w, dev);
      y = Tensor::from_vector({B, h, w, C}, one_hot(lbls, C), dev);
    }
    model->params().zero_grad();
    Tensor logits = model->forward(x, RunMode::training());
    Tensor loss = loss_name == "wce" ? weighted_cross_entropy(logits, y, class_weights)
                                     : dice_loss(logits, y, loss_name == "dice");
    backward(loss);
    adam.step();
    return static_cast<double>(loss.to_vector()[0]);
  };
  spec.validate_every = cfg.integer("finetune.val_every");
  spec.validate = [&](int step) {
    const double d = validation_dice(*model, val, p);
    const bool better = result.best_step < 0 || d > result.best_val_dice + 1e-7;
    run.log_line(fmt::format("validate step {} foreground_dice {:.4f}{}", step + 1, d, better ? " best" : ""),
                 !opt.quiet);
    if (better) {
      result.best_val_dice = d;
      result.best_step = step + 1;
      auto md = checkpoint_metadata(cfg, "finetune", step, run.config_hash());
      md["val_dice"] = fmt::format("{:.9g}", d);
      save_checkpoint(run.checkpoint("best"), model->params(), nullptr, md);
    }
  };
  run_loop(cfg, run, *model, adam, spec, run.resuming(), opt.quiet);
  run.log_line(fmt::format("finetune: done, best validation foreground Dice {:.4f} at step {}", result.best_val_dice,
                           result.best_step));
  evaluate_once();
}

}  // namespace cs
