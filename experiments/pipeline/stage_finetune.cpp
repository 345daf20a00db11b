// Stage 3 (docs/method.md §4): fine-tune the whole UNet with the Dice loss on a few labelled volumes, from
// pre-trained weights or from scratch, keeping the checkpoint with the best validation Dice. The
// step itself is in stage_step.cpp.
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "experiments/pipeline/evaluate.h"
#include "experiments/evaluation/inference.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/stage_checks.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
#include "autograd/compat.h"
#include "io/paths.h"
#include "nn/checkpoint.h"

namespace cs {

namespace {

struct FinetuneResult {
  double best_val_dice = 0;  // mean foreground Dice on the validation volumes, at the best step
  int best_step = -1;
};

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
  const Compat mode = parse_compat(cfg.str("compat"));
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
  auto evaluate_once = [&] {
    if (path_exists(run.path("eval")))
      say(fmt::format("finetune: {} holds its evaluation already (contraseg evaluate --overwrite replaces it)",
                      run.path("eval")));
    else
      run_evaluate(cfg, opt.out, run.path("eval"));
  };
  if (run.finished()) {
    say(fmt::format("finetune: {} is finished; nothing to train", opt.out));
    evaluate_once();
    return;
  }
  // Everything the stage reads, the test cases of its evaluation included, is checked before the
  // folder is written (stage_checks.h).
  const std::string set = fmt::format("labelled set {} {}", tr, comb);
  const CaseList test = {"test set", data.splits().test(), true};
  data.check_lists({{set, train_ids, true}, {"validation list of " + set, val_ids, true}, test});
  const auto train = data.prepare(train_ids, true, false, "labelled volumes");
  const auto val = data.prepare(val_ids, true, true, "validation volumes");
  data.check_cases({test});
  const auto stacks = stacks_of(train);
  const PreprocessParams& p = data.params();
  auto model = make_model(cfg, Stage::Finetune, dev);
  if (!opt.init.empty()) load_checkpoint(checkpoint_path(opt.init, "final"), model->params(), lo);
  const auto step = make_stage_step(Stage::Finetune, cfg, *model, stacks);
  check_stage_inputs(*step, cfg, train, set);
  run.start();
  run.logging_errors([&] {
    FinetuneResult result;
    // A resumed run continues from the best validation score it had reached.
    if (path_exists(run.checkpoint("best"))) {
      const auto md = read_checkpoint_metadata(run.checkpoint("best"));
      result.best_val_dice = std::stod(md.at("val_dice"));
      result.best_step = std::stoi(md.at("step")) + 1;
    }
    run.log_line(fmt::format("finetune: {} {} ({} volumes), {}, {} mode, {} iterations", tr, comb, train_ids.size(),
                             init_desc, compat_name(mode), cfg.integer("finetune.iterations")),
                 !console_quiet());
    LoopSpec spec;
    spec.iterations = cfg.integer("finetune.iterations");
    spec.validate_every = cfg.integer("finetune.val_every");
    const int bn_batches = cfg.integer("finetune.bn_batches");
    spec.validate = [&](int s) {
      if (bn_batches > 0) estimate_bn_statistics(*step, s, bn_batches);
      const double d = validation_dice(*model, val, p);
      const bool better = result.best_step < 0 || d > result.best_val_dice + 1e-7;
      run.log_line(fmt::format("validate step {} foreground_dice {:.4f}{}", s + 1, d, better ? " best" : ""),
                   !opt.quiet);
      if (better) {
        result.best_val_dice = d;
        result.best_step = s + 1;
        auto md = checkpoint_metadata(cfg, Stage::Finetune, s, run.config_hash());
        md["val_dice"] = fmt::format("{:.9g}", d);
        save_checkpoint(run.checkpoint("best"), model->params(), nullptr, md);
      }
    };
    run_loop(cfg, run, *step, spec, run.resuming(), opt.quiet);
    run.log_line(fmt::format("finetune: done, best validation foreground Dice {:.4f} at step {}",
                             result.best_val_dice, result.best_step));
    evaluate_once();
  });
}

}  // namespace cs
