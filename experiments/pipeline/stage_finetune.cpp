// Stage 3 (docs/method.md §4): fine-tune the whole UNet with the Dice loss on a few labelled volumes, from
// pre-trained weights or from scratch, keeping the checkpoint with the best validation Dice. The
// step itself is in stage_step.cpp.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>

#include <fmt/format.h>

#include "experiments/pipeline/evaluate.h"
#include "experiments/evaluation/inference.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/stage_context.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
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

void run_finetune(const Settings& settings, const StageOptions& opt) {
  const FinetuneSettings& f = settings.finetune;
  const std::string set = fmt::format("labelled set {} {}", f.labeled, f.comb);
  // Everything the stage reads, the test cases of its evaluation included, is checked before the
  // folder is written (stage_checks.h).
  const auto c = open_stage(Stage::Finetune, settings, opt, [&](const DataSource& data) {
    return std::vector<CaseList>{{"validation list of " + set, data.splits().validation(f.labeled, f.comb), true},
                                 {"test set", data.splits().test(), true}};
  });
  RunFolder& run = c->run;
  auto evaluate_once = [&] {
    if (path_exists(run.path("eval")))
      say(fmt::format("finetune: {} holds its evaluation already (contraseg evaluate --overwrite replaces it)",
                      run.path("eval")));
    else {
      const EvalResult r = run_evaluate(settings, opt.out, run.path("eval"));
      // Into the event file when this process trained the run (a finished one's folder is left as it is).
      run.scalar("evaluation/test_foreground_dice", f.iterations, r.foreground_mean_dice);
      std::vector<std::string> pictures;
      for (const auto& e : std::filesystem::directory_iterator(run.path("eval/pictures")))
        if (e.path().extension() == ".png") pictures.push_back(e.path().string());
      std::sort(pictures.begin(), pictures.end());
      for (const auto& p : pictures)
        run.picture("evaluation/" + std::filesystem::path(p).stem().string(), f.iterations, p);
    }
  };
  if (c->finished()) {
    evaluate_once();
    return;
  }
  DataSource& data = c->data;
  const auto val = data.prepare(data.splits().validation(f.labeled, f.comb), true, true, "validation volumes");
  data.check_cases({{"test set", data.splits().test(), true}});
  const PreprocessParams& p = data.params();
  UNet& model = *c->model;
  StageStep& step = *c->step;
  run.start();
  run.logging_errors([&] {
    FinetuneResult result;
    // A resumed run continues from the best validation score it had reached.
    if (path_exists(run.checkpoint("best"))) {
      const auto md = read_checkpoint_metadata(run.checkpoint("best"));
      result.best_val_dice = std::stod(md.at("val_dice"));
      result.best_step = std::stoi(md.at("step")) + 1;
    }
    run.log_line(fmt::format("finetune: {} {} ({} volumes), {}, {} mode, {} iterations", f.labeled, f.comb,
                             c->train.size(), c->init_description, compat_name(settings.run.compat), f.iterations),
                 !console_quiet());
    LoopSpec spec;
    spec.iterations = f.iterations;
    spec.validate_every = f.val_every;
    spec.validate = [&](int s) {
      if (f.bn_batches > 0) estimate_bn_statistics(step, s, f.bn_batches);
      const double d = validation_dice(model, val, p);
      const bool better = result.best_step < 0 || d > result.best_val_dice + 1e-7;
      run.log_line(fmt::format("validate step {} foreground_dice {:.4f}{}", s + 1, d, better ? " best" : ""),
                   !opt.quiet);
      run.scalar("validation/foreground_dice", s + 1, d);
      if (better) {
        result.best_val_dice = d;
        result.best_step = s + 1;
        auto md = checkpoint_metadata(settings, Stage::Finetune, s, run.config_hash());
        md["val_dice"] = fmt::format("{:.9g}", d);
        save_checkpoint(run.checkpoint("best"), model.params(), nullptr, md);
      }
    };
    run_loop(settings, run, step, spec, run.resuming(), opt.quiet);
    run.log_line(fmt::format("finetune: done, best validation foreground Dice {:.4f} at step {}",
                             result.best_val_dice, result.best_step));
    evaluate_once();
  });
}

}  // namespace cs
