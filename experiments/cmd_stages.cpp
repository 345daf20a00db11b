// Subcommands pretrain-global, pretrain-local, finetune, evaluate and predict.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "experiments/cli.h"
#include "experiments/config.h"
#include "experiments/data.h"
#include "experiments/inference.h"
#include "experiments/stages.h"
#include "experiments/training.h"
#include "io/datasets.h"
#include "io/nifti.h"
#include "nn/checkpoint.h"

namespace cs {
namespace {

const char* kCommonHelp =
    "  --config FILE     JSON config (experiments/configs/*.json); defaults otherwise\n"
    "  --set KEY=VALUE   override one config key (repeatable); `contraseg config` lists the keys\n"
    "  --data DIR        dataset root (same as --set data=DIR)\n"
    "  --out DIR         run folder to create\n"
    "  --device cpu|cuda same as --set device=...\n"
    "  --resume          continue a killed run from its latest checkpoint\n";

// Resolves the config of a stage: defaults, --config, --set, and the shortcut options.
Config resolve(const Args& a) {
  Config c;
  if (a.has("config")) c.load_file(a.get("config", ""));
  for (const auto& kv : a.all("set")) c.apply_override(kv);
  if (a.has("data")) c.set("data", a.get("data", ""), "--data");
  if (a.has("device")) c.set("device", a.get("device", ""), "--device");
  if (a.has("labeled")) c.set("finetune.labeled", a.get("labeled", ""), "--labeled");
  if (a.has("comb")) c.set("finetune.comb", a.get("comb", ""), "--comb");
  return c;
}

int run_stage(int argc, char** argv, const char* name, const char* help, bool with_init) {
  Args a(argc, argv, {"config", "data", "out", "device", "init", "labeled", "comb"}, {"resume", "quiet"}, {"set"});
  if (a.help()) {
    std::printf("%s%s", help, kCommonHelp);
    return 0;
  }
  const Config cfg = resolve(a);
  StageOptions opt;
  opt.out = a.require("out");
  opt.init = a.get("init", "");
  if (!with_init && !opt.init.empty()) throw std::invalid_argument(std::string(name) + " takes no --init");
  opt.resume = a.flag("resume");
  opt.quiet = a.flag("quiet");
  opt.command_line = command_line(argc, argv);
  std::printf("%s: resolved config\n%s", name, cfg.to_text().c_str());
  const std::string stage = name;
  if (stage == "pretrain-global") run_pretrain_global(cfg, opt);
  if (stage == "pretrain-local") run_pretrain_local(cfg, opt);
  if (stage == "finetune") {
    run_finetune(cfg, opt);
    run_evaluate(cfg, opt.out, opt.out + "/eval");
  }
  return 0;
}

int cmd_pretrain_global(int argc, char** argv) {
  return run_stage(argc, argv, "pretrain-global",
                   "usage: contraseg pretrain-global --data DIR --out RUN [options]\n"
                   "Stage 1: the encoder and head g1 with the global contrastive loss (global.loss = gr|gd-|gd).\n",
                   false);
}
int cmd_pretrain_local(int argc, char** argv) {
  return run_stage(argc, argv, "pretrain-local",
                   "usage: contraseg pretrain-local --init GLOBAL_RUN --data DIR --out RUN [options]\n"
                   "Stage 2: decoder blocks 1..l and head g2 with the local loss (local.loss = lr|ld), on the\n"
                   "frozen encoder of a pretrain-global run.\n"
                   "  --init DIR        the pretrain-global run folder\n",
                   true);
}
int cmd_finetune(int argc, char** argv) {
  return run_stage(argc, argv, "finetune",
                   "usage: contraseg finetune --data DIR --out RUN [--init RUN] [--labeled tr1|tr2|tr8 --comb c1..c5]\n"
                   "Stage 3: the whole UNet with the Dice loss on a few labelled volumes, then evaluation of\n"
                   "the best checkpoint on the test cases (RUN/eval).\n"
                   "  --init DIR        a pretrain-local run (encoder + blocks 1..l) or pretrain-global run\n"
                   "                    (encoder); without it, random initialisation (the baseline)\n"
                   "  --labeled SET     labelled set (finetune.labeled), --comb C its combination\n",
                   true);
}

int cmd_evaluate(int argc, char** argv) {
  Args a(argc, argv, {"run", "data", "out", "checkpoint", "device"}, {}, {"set"});
  if (a.help()) {
    std::printf(
        "usage: contraseg evaluate --run FINETUNE_RUN [--data DIR] [--out DIR] [--checkpoint best|final]\n"
        "Dice per class per test volume at native resolution and HD95 in mm: metrics_per_case.csv,\n"
        "summary.json (foreground_mean_dice), predictions/*.nii.gz and pictures/*.png in --out\n"
        "(default RUN/eval).\n");
    return 0;
  }
  const std::string run = a.require("run");
  Config cfg = load_run_config(run, {"finetune"}, "final");
  for (const auto& kv : a.all("set")) cfg.apply_override(kv);
  if (a.has("data")) cfg.set("data", a.get("data", ""), "--data");
  if (a.has("device")) cfg.set("device", a.get("device", ""), "--device");
  run_evaluate(cfg, run, a.get("out", run + "/eval"), a.get("checkpoint", "best"));
  return 0;
}

int cmd_predict(int argc, char** argv) {
  Args a(argc, argv, {"run", "image", "out", "checkpoint", "device", "channel"});
  if (a.help()) {
    std::printf(
        "usage: contraseg predict --run FINETUNE_RUN --image IN.nii.gz --out OUT.nii.gz\n"
        "Segments one NIfTI image; the label volume keeps the input's geometry (affine, pixdim).\n"
        "  --channel T       volume of a 4D image to use (default 0)\n");
    return 0;
  }
  const std::string run = a.require("run");
  Config cfg = load_run_config(run, {"finetune"}, "final");
  if (a.has("device")) cfg.set("device", a.get("device", ""), "--device");
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  const std::string ck = run_checkpoint(run, a.get("checkpoint", "best"));
  auto model = make_model(cfg, "finetune", dev);
  load_checkpoint(ck, model->params());
  LoadedCase c;
  c.id = a.require("image");
  c.image = read_nifti(c.id, a.get_int("channel", 0));
  const PreprocessParams p = pipeline_params(cfg);
  const PreparedCase prepared = prepare_case(c, p, true);
  const Volume pred = predict_volume(*model, prepared, p);
  write_nifti_label(a.require("out"), pred);
  std::printf("predict: %s -> %s (%dx%dx%d, checkpoint %s)\n", c.id.c_str(), a.require("out").c_str(), pred.nx,
              pred.ny, pred.nz, ck.c_str());
  return 0;
}

int cmd_config(int argc, char** argv) {
  Args a(argc, argv, {"config"}, {}, {"set"});
  if (a.help()) {
    std::printf("usage: contraseg config [--config FILE] [--set KEY=VALUE]...\nPrints every key, its resolved value and what it means.\n");
    return 0;
  }
  const Config c = resolve(a);
  for (const auto& s : config_schema())
    std::printf("  %-22s %-12s %s\n", s.key.c_str(), c.str(s.key).c_str(), s.help.c_str());
  return 0;
}

}  // namespace

CS_COMMAND("pretrain-global", "stage 1: global contrastive pre-training of the encoder", cmd_pretrain_global);
CS_COMMAND("pretrain-local", "stage 2: local contrastive pre-training of the decoder", cmd_pretrain_local);
CS_COMMAND("finetune", "stage 3: Dice fine-tuning on a few labelled volumes (+ evaluation)", cmd_finetune);
CS_COMMAND("evaluate", "Dice and HD95 of a fine-tuned run on the test cases", cmd_evaluate);
CS_COMMAND("predict", "segment one NIfTI image with a fine-tuned run", cmd_predict);
CS_COMMAND("config", "list the configuration keys and their values", cmd_config);

}  // namespace cs
