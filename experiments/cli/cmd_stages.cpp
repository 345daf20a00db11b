// Subcommands pretrain-global, pretrain-local, pretrain-pretext, finetune, evaluate, predict and config.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "experiments/cli/cli.h"
#include "experiments/pipeline/console.h"
#include "experiments/config.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/evaluate.h"
#include "experiments/evaluation/inference.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
#include "io/datasets/datasets.h"
#include "io/datasets/n4_cache.h"
#include "io/formats/nifti.h"
#include "nn/checkpoint.h"

namespace cs {
namespace {

// The options every training stage takes; `extra` are the stage's own.
std::vector<OptionSpec> stage_options(std::vector<OptionSpec> extra) {
  std::vector<OptionSpec> o = {
      config_option(), set_option(), data_option(), option("out", "RUN", "run folder to create"), device_option(),
      flag("resume", "continue the run in RUN from its latest checkpoint (nothing to do if it finished)"),
      flag("overwrite", "discard the run in RUN and start again"),
      flag("quiet", "only errors and the result on the terminal (every line is in the run's log.txt)")};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

// A stage command: resolves its settings (printed) and options, then runs the stage with them.
int run_stage_command(const Args& a, void (*run_stage)(const Settings&, const StageOptions&)) {
  const Settings settings = resolve_settings(resolve_config(a));
  StageOptions opt;
  opt.out = a.require("out");
  opt.init = a.get("init", "");
  if (a.flag("resume") && a.flag("overwrite")) throw UsageError("--resume and --overwrite exclude each other");
  opt.existing = a.flag("resume") ? Existing::Resume : a.flag("overwrite") ? Existing::Overwrite : Existing::Refuse;
  opt.quiet = a.flag("quiet");
  set_quiet(opt.quiet);
  opt.command_line = a.command_line();
  // --quiet: only errors and the result on the terminal; the config is in the run's config.json.
  if (!opt.quiet) std::printf("%s: resolved config\n%s", a.spec().name.c_str(), settings.config.to_text().c_str());
  run_stage(settings, opt);
  return 0;
}

CommandSpec pretrain_global_spec() {
  return {"pretrain-global", "stage 1: global contrastive pre-training of the encoder",
          "contraseg pretrain-global --data DIR --out RUN [options]",
          "Stage 1: the encoder and head g1 with the global contrastive loss (global.loss = gr|gd-|gd).\n",
          stage_options({})};
}
int cmd_pretrain_global(const Args& a) { return run_stage_command(a, run_pretrain_global); }

CommandSpec pretrain_local_spec() {
  return {"pretrain-local", "stage 2: local contrastive pre-training of the decoder",
          "contraseg pretrain-local --init GLOBAL_RUN --data DIR --out RUN [options]",
          "Stage 2: decoder blocks 1..l and head g2 with the local loss (local.loss = lr|ld), on the\n"
          "frozen encoder of a pretrain-global run.\n",
          stage_options({option("init", "RUN", "the pretrain-global run folder")})};
}
int cmd_pretrain_local(const Args& a) { return run_stage_command(a, run_pretrain_local); }

CommandSpec pretrain_pretext_spec() {
  return {"pretrain-pretext", "pretext-task pre-training (rotation, restoration, inpainting), a baseline",
          "contraseg pretrain-pretext --data DIR --out RUN [--set pretext.task=rotation|restoration|inpainting]",
          "Pre-training with a pretext task instead of the contrastive losses, the baselines of the comparison\n"
          "(docs/method.md §8): rotation (the encoder predicts a slice's turn), restoration (the U-Net undoes\n"
          "swapped patches) or inpainting (the U-Net fills a masked square), from random initialisation on\n"
          "the pre-training pool. finetune --init RUN then starts from its encoder (rotation) or its\n"
          "encoder and decoder (restoration, inpainting).\n",
          stage_options({})};
}
int cmd_pretrain_pretext(const Args& a) { return run_stage_command(a, run_pretrain_pretext); }

CommandSpec finetune_spec() {
  return {"finetune", "stage 3: Dice fine-tuning on a few labelled volumes (+ evaluation)",
          "contraseg finetune --data DIR --out RUN [--init RUN] [--labeled tr1|tr2|tr8 --comb c1..c5]",
          "Stage 3: the whole UNet with the Dice loss on a few labelled volumes, then evaluation of\n"
          "the best checkpoint on the test cases (RUN/eval).\n",
          stage_options({option("init", "RUN",
                                "a pretrain-local run (encoder + blocks 1..l), a pretrain-global run (encoder) or a "
                                "pretrain-pretext run (rotation: encoder; restoration, inpainting: encoder + blocks "
                                "1..5); without it, random initialisation (the baseline)"),
                         choice("labeled", config_choices("finetune.labeled"), "labelled set (finetune.labeled)"),
                         choice("comb", config_choices("finetune.comb"), "its combination (finetune.comb)")})};
}
int cmd_finetune(const Args& a) { return run_stage_command(a, run_finetune); }

// A fine-tuned run's checkpoints that evaluate and predict can use (run_folder.h
// run_checkpoint). "latest" also exists in an unfinished run, the others need a finished one.
OptionSpec checkpoint_option() {
  return choice("checkpoint", {"best", "final", "latest"},
                "best (default; final when the run never validated), final, or latest (the last periodic "
                "checkpoint, also of an unfinished run)");
}
Settings finetuned_run_settings(const Args& a) {
  const std::string which = a.get("checkpoint", "best");
  return load_run_settings(a.require("run"), {Stage::Finetune}, which == "latest" ? "latest" : "final");
}

CommandSpec evaluate_spec() {
  return {"evaluate", "Dice and HD95 of a fine-tuned run on the test cases",
          "contraseg evaluate --run FINETUNE_RUN [--data DIR] [--out DIR] [--checkpoint best|final|latest]",
          "Dice per class per test volume at native resolution and HD95 in mm: metrics_per_case.csv,\n"
          "summary.json (foreground_mean_dice), predictions/*.nii.gz and pictures/*.png in --out.\n"
          "The run's config.json gives the data folder and split (from any directory); --data and --set\n"
          "change them.\n",
          {option("run", "RUN", "the fine-tuned run folder"),
           data_option("dataset root (default: the run's)"),
           option("out", "DIR", "where to write (default RUN/eval)"),
           checkpoint_option(),
           set_option("override one key of the run's config"),
           device_option(),
           flag("overwrite", "replace an existing evaluation in --out")}};
}
int cmd_evaluate(const Args& a) {
  const std::string run = a.require("run");
  const Settings settings = resolve_settings(resolve_config(a, finetuned_run_settings(a).config));
  const FolderLock lock(run, a.command_line());  // no training or other evaluation of it meanwhile
  run_evaluate(settings, run, a.get("out", run + "/eval"), a.get("checkpoint", "best"), a.flag("overwrite"));
  return 0;
}

CommandSpec predict_spec() {
  return {"predict", "segment one NIfTI image with a fine-tuned run",
          "contraseg predict --run FINETUNE_RUN --image IN.nii.gz --out OUT.nii.gz [options]",
          "Segments one NIfTI image; the label volume keeps the input's geometry (affine, pixdim).\n",
          {option("run", "RUN", "the fine-tuned run folder"),
           option("image", "IN.nii.gz", "the image to segment"),
           option("out", "OUT.nii.gz", "the label volume to write (never IN itself)"),
           option("channel", "T", "volume of a 4D image to use (default 0; the 4th dimension, 0..T-1)"),
           checkpoint_option(),
           device_option("where to run (default: the run's device)"),
           flag("overwrite", "replace OUT when it exists (without it an existing OUT is refused)")}};
}

// Whether two paths name the same file: the same inode when both exist (whatever links lead
// there), else the same absolute path.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return absolute_path(a) == absolute_path(b);
}

// predict's OUT, checked before any work: never the image it reads (that would destroy the input),
// and an existing file only with --overwrite.
void check_predict_output(const std::string& image, const std::string& out, bool overwrite) {
  if (same_file(image, out))
    throw UsageError(fmt::format("--out {} is the input image --image {} (the same file); the labels would replace "
                                 "the image: choose another --out",
                                 out, image));
  require_new_output_file(out, overwrite);
}

// The volume of `image` to segment: --channel (default 0), which must be one of the file's
// volumes. A 4D image says which of its volumes is segmented, so that the choice is never silent.
int predict_channel(const Args& a, const std::string& image) {
  const NiftiInfo info = read_nifti_info(image);
  const int64_t nt = info.ndim >= 4 ? info.dim[4] : 1;
  const int t = a.get_int("channel", 0);
  if (t < 0 || t >= nt)
    throw UsageError(nt == 1 ? fmt::format("option --channel: {} has one volume (3D), so --channel can only be 0, "
                                           "not {}",
                                           image, t)
                             : fmt::format("option --channel: {} has {} volumes (4D, T={}); --channel takes 0..{}, "
                                           "not {}",
                                           image, nt, nt, nt - 1, t));
  if (nt > 1)
    std::printf("predict: %s is 4D (T=%lld); segmenting volume %d of 0..%lld (--channel T picks another)\n",
                image.c_str(), static_cast<long long>(nt), t, static_cast<long long>(nt - 1));
  return t;
}

int cmd_predict(const Args& a) {
  const std::string run = a.require("run"), image = a.require("image"), out = a.require("out");
  check_predict_output(image, out, a.flag("overwrite"));
  const int channel = predict_channel(a, image);
  Settings settings = finetuned_run_settings(a);
  if (a.has("device")) settings = settings.with_device(parse_device(a.get("device", "")), "--device");
  apply_threads(settings);
  const Device dev = checked_device(settings);
  const std::string ck = run_checkpoint(run, a.get("checkpoint", "best"));
  auto model = make_model(settings, Stage::Finetune, dev);
  load_checkpoint(ck, model->params());
  LoadedCase c;
  c.id = image;
  c.image = read_nifti(c.id, channel);
  if (settings.data.n4) {  // the run trained on N4-corrected images: its input is corrected the same way
    require_n4("the run " + run + " (n4 = true)");
    N4CacheRequest req;
    req.source_file = image;
    req.channel = channel;
    req.dir = settings.data.n4_cache;
    req.what = image;
    c.image = n4_cached(c.image, req, [](const std::string& line) { std::printf("predict: %s\n", line.c_str()); });
  }
  const PreprocessParams& p = settings.data.params;
  const PreparedCase prepared = prepare_case(c, p, true);
  const Volume pred = predict_volume(*model, prepared, p);
  write_nifti_label(out, pred);  // atomic: OUT is the old file or the new one, never half of one
  std::printf("predict: %s -> %s (%dx%dx%d, checkpoint %s)\n", c.id.c_str(), out.c_str(), pred.nx, pred.ny, pred.nz,
              ck.c_str());
  return 0;
}

CommandSpec config_spec() {
  return {"config", "list the configuration keys, their values and allowed values",
          "contraseg config [--config FILE] [--set KEY=VALUE]...",
          "Prints every key, its resolved value, what it means and what it takes (the allowed values of\n"
          "an enumerated key, else its type).\n",
          {config_option("JSON config to resolve"), set_option("override one config key")}};
}
int cmd_config(const Args& a) {
  const Config c = resolve_config(a);
  for (const auto& s : config_schema())
    std::printf("  %-22s %-12s %s (%s)\n", s.key.c_str(), c.str(s.key).c_str(), s.help.c_str(),
                describe_values(s).c_str());
  return 0;
}

}  // namespace

CS_COMMAND(pretrain_global_spec(), cmd_pretrain_global);
CS_COMMAND(pretrain_local_spec(), cmd_pretrain_local);
CS_COMMAND(pretrain_pretext_spec(), cmd_pretrain_pretext);
CS_COMMAND(finetune_spec(), cmd_finetune);
CS_COMMAND(evaluate_spec(), cmd_evaluate);
CS_COMMAND(predict_spec(), cmd_predict);
CS_COMMAND(config_spec(), cmd_config);

}  // namespace cs
