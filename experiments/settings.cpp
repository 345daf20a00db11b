// The one place that reads config keys by name (settings.h).
#include "experiments/settings.h"

#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "io/datasets/n4_cache.h"

namespace cs {

const std::vector<Stage>& all_stages() {
  static const std::vector<Stage> stages = {Stage::Global, Stage::Local, Stage::Pretext, Stage::Finetune};
  return stages;
}

Stage parse_stage(const std::string& name) {
  for (Stage s : all_stages())
    if (name == stage_name(s)) return s;
  throw std::invalid_argument("stage '" + name +
                              "': expected pretrain-global, pretrain-local, pretrain-pretext or finetune");
}

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::Global: return "pretrain-global";
    case Stage::Local: return "pretrain-local";
    case Stage::Finetune: return "finetune";
    case Stage::Pretext: return "pretrain-pretext";
  }
  return "?";
}

const char* finetune_loss_name(FinetuneLoss l) {
  return l == FinetuneLoss::Dice ? "dice" : l == FinetuneLoss::DiceForeground ? "dice_fg" : "wce";
}

const char* pretext_task_name(PretextTask t) {
  return t == PretextTask::Rotation ? "rotation" : t == PretextTask::Restoration ? "restoration" : "inpainting";
}

namespace {

PretextTask parse_pretext_task(const std::string& s) {
  for (PretextTask t : {PretextTask::Rotation, PretextTask::Restoration, PretextTask::Inpainting})
    if (s == pretext_task_name(t)) return t;
  throw std::invalid_argument("pretext.task '" + s + "': expected rotation, restoration or inpainting");
}

FinetuneLoss parse_finetune_loss(const std::string& s) {
  for (FinetuneLoss l : {FinetuneLoss::Dice, FinetuneLoss::DiceForeground, FinetuneLoss::WeightedCrossEntropy})
    if (s == finetune_loss_name(l)) return l;
  throw std::invalid_argument("finetune.loss '" + s + "': expected dice, dice_fg or wce");
}

// The dataset's preprocessing constants (docs/method.md §6.1), with image_size, target_res and
// num_classes applied where they are set (0 = the dataset's).
PreprocessParams preprocess_params(const Config& cfg) {
  PreprocessParams p = dataset_params(cfg.str("dataset"));
  if (cfg.integer("image_size")) p.out_h = p.out_w = cfg.integer("image_size");
  if (p.out_h % 32 != 0)
    throw std::invalid_argument("image_size " + std::to_string(p.out_h) + " is not a multiple of 32");
  if (cfg.real("target_res") > 0) p.target_dx = p.target_dy = cfg.real("target_res");
  if (cfg.integer("num_classes")) p.num_classes = cfg.integer("num_classes");
  return p;
}

}  // namespace

Settings resolve_settings(const Config& cfg) {
  Settings s;
  s.config = cfg;
  // n4 on a build without ITK, or with no cache folder to use, fails here, before any work.
  const bool n4 = cfg.boolean("n4");
  if (n4) require_n4("n4 = true");
  const std::string n4_cache = n4 && cfg.str("n4_cache").empty() ? default_n4_cache_dir() : cfg.str("n4_cache");
  s.data = {cfg.str("dataset"), cfg.str("data"), cfg.str("splits"), cfg.str("layout"), preprocess_params(cfg), n4,
            n4_cache};
  s.run = {parse_compat(cfg.str("compat")), parse_device(cfg.str("device")), parse_precision(cfg.str("precision")),
           cfg.boolean("deterministic"),    cfg.integer("seed"),              cfg.integer("threads"),
           cfg.real("lr"),                  cfg.integer("log_every"),         cfg.integer("checkpoint_every")};
  s.global = {parse_global_loss(cfg.str("global.loss")), cfg.integer("global.iterations"), cfg.real("global.tau"),
              cfg.integer("global.partitions"), cfg.integer("global.volumes"), cfg.integer("global.batch"),
              cfg.integer("global.knn_every")};
  s.local = {parse_local_loss(cfg.str("local.loss")), cfg.integer("local.iterations"), cfg.real("local.tau"),
             cfg.integer("local.blocks"), cfg.integer("local.region"), cfg.integer("local.batch"),
             cfg.integer("local.retrieval_every")};
  const double own_lr = cfg.real("finetune.lr");  // 0: the shared lr
  s.finetune = {parse_finetune_loss(cfg.str("finetune.loss")), cfg.integer("finetune.iterations"),
                cfg.integer("finetune.batch"), own_lr > 0 ? own_lr : s.run.lr, cfg.integer("finetune.val_every"),
                cfg.str("finetune.labeled"), cfg.str("finetune.comb"), cfg.boolean("finetune.augment"),
                cfg.integer("finetune.bn_batches")};
  const int side = s.data.params.out_h, patch = cfg.integer("pretext.patch");  // patch 0: the image size's
  s.pretext = {parse_pretext_task(cfg.str("pretext.task")), cfg.integer("pretext.iterations"),
               cfg.integer("pretext.batch"), patch > 0 ? patch : default_restoration_patch(side),
               cfg.integer("pretext.swaps"), pretext_mask_pixels(cfg.real("pretext.mask_side"), side),
               cfg.integer("pretext.probe_every")};
  std::vector<std::string> combs = cfg.list("reproduce.combs");
  if (combs == std::vector<std::string>{kAllCombinations}) combs.clear();
  s.reproduce = {cfg.list("reproduce.labeled"), combs, cfg.integer("reproduce.workers"), cfg.table()};
  return s;
}

std::string Settings::method(Stage stage) const {
  if (stage == Stage::Global)
    return global.loss == GlobalLossKind::GR ? "gr" : global.loss == GlobalLossKind::GDMinus ? "gd-" : "gd";
  if (stage == Stage::Local) return local.loss == LocalLossKind::LR ? "lr" : "ld";
  if (stage == Stage::Pretext) return pretext_task_name(pretext.task);
  return finetune_loss_name(finetune.loss);
}

Settings Settings::with_data(const std::string& root, const std::string& split_file, const std::string& origin) const {
  Config c = config;
  c.set("data", root, origin);
  c.set("splits", split_file, origin);
  return resolve_settings(c);
}

Settings Settings::with_labeled_set(const std::string& set, const std::string& combination,
                                    const std::string& origin) const {
  Config c = config;
  c.set("finetune.labeled", set, origin);
  c.set("finetune.comb", combination, origin);
  return resolve_settings(c);
}

Settings Settings::with_threads(int n, const std::string& origin) const {
  Config c = config;
  c.set("threads", std::to_string(n), origin);
  return resolve_settings(c);
}

Settings Settings::with_device(Device d, const std::string& origin) const {
  Config c = config;
  c.set("device", device_name(d), origin);
  return resolve_settings(c);
}

Settings Settings::with_pretraining(const PretrainRun& run, const std::string& origin) const {
  Config c = config;
  // The stage's method key, its iteration count and its probe's period.
  const auto [method, iterations, every] =
      run.kind == PretrainKind::Global  ? std::make_tuple("global.loss", "global.iterations", "global.knn_every")
      : run.kind == PretrainKind::Local ? std::make_tuple("local.loss", "local.iterations", "local.retrieval_every")
                                        : std::make_tuple("pretext.task", "pretext.iterations", "pretext.probe_every");
  c.set(method, run.method, origin);
  if (run.kind == PretrainKind::Local) c.set("local.blocks", std::to_string(run.blocks), origin);
  if (c.integer(every) == 0) c.set(every, c.str(iterations), origin);
  c.validate();
  return resolve_settings(c);
}

std::vector<std::string> weight_keys(Stage stage) {
  // Keys of one stage carry its prefix; the unprefixed ones are shared by every stage.
  const std::string own = stage == Stage::Global  ? "global."
                          : stage == Stage::Local  ? "local."
                          : stage == Stage::Pretext ? "pretext."
                                                    : "finetune.";
  std::vector<std::string> keys;
  for (const auto& s : config_schema()) {
    const bool shared = s.key.find('.') == std::string::npos;
    // What only logs or paces a run does not change its weights; `threads` and `deterministic`
    // change only how sums are rounded (deterministic: on a GPU; on the CPU nothing).
    // n4_cache is where corrected volumes are kept, not what they are (n4 is in the hash).
    if (s.key == "log_every" || s.key == "checkpoint_every" || s.key == "threads" || s.key == "deterministic" ||
        s.key == "n4_cache" ||
        s.key == "global.knn_every" || s.key == "local.retrieval_every" || s.key == "pretext.probe_every")
      continue;
    if (shared || s.key.compare(0, own.size(), own) == 0) keys.push_back(s.key);
  }
  return keys;
}

void check_init_matches(const Settings& init, const Settings& now, const std::string& init_dir) {
  for (const char* key : {"dataset", "image_size", "target_res"})
    if (init.config.str(key) != now.config.str(key))
      throw std::invalid_argument(fmt::format("--init {}: its {} is '{}', this run's is '{}'", init_dir, key,
                                              init.config.str(key), now.config.str(key)));
}

}  // namespace cs
