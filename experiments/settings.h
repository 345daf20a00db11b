#pragma once
// The resolved configuration as types. experiments/config.h holds the keys (one table: type,
// default, range, help) and checks every value as it comes in; resolve_settings reads each key
// once, here and nowhere else, into the structs below, with enums for the switches. The rest of the
// program reads fields, so a misspelt setting is a compile error. `Settings::config` stays the
// record: what a run folder saves, prints and hashes.
#include <string>
#include <vector>

#include "autograd/compat.h"
#include "autograd/device.h"
#include "autograd/precision.h"
#include "experiments/config.h"
#include "io/datasets/preprocess.h"
#include "losses/global.h"
#include "losses/local.h"

namespace cs {

// The training stages: the method's three (docs/method.md §2-4) and the pretext-task pre-training
// it is compared with (§8). The values of the first three seed their initialisation (kept as
// first cut).
enum class Stage { Global = 0, Local = 1, Finetune = 2, Pretext = 3 };
// "pretrain-global" | "pretrain-local" | "finetune" | "pretrain-pretext"
Stage parse_stage(const std::string& name);
const char* stage_name(Stage s);  // the run folder's stage name, as above
// Every stage, the pre-training stages first (global, local, pretext), then fine-tuning: the
// order of listings (`contraseg methods`) and of the tests that go over every stage.
const std::vector<Stage>& all_stages();

enum class FinetuneLoss { Dice, DiceForeground, WeightedCrossEntropy };
const char* finetune_loss_name(FinetuneLoss l);  // the key's value: "dice" | "dice_fg" | "wce"

// The pretext tasks of stage pretrain-pretext (docs/method.md §8).
enum class PretextTask { Rotation, Restoration, Inpainting };
const char* pretext_task_name(PretextTask t);  // the key's value: "rotation" | "restoration" | "inpainting"

// resolve_settings fills each struct in the order of its fields: a new field goes there too.

// Where the cases come from and how they are preprocessed.
struct DataSettings {
  std::string dataset;        // acdc | prostate | mmwhs
  std::string root;           // `data`: the dataset folder ("" = not given)
  std::string splits;         // the split file ("" = the folder's or the dataset's)
  std::string layout;         // auto (the dataset's) | acdc | msd | mmwhs | nnunet
  PreprocessParams params;    // the dataset's constants with image_size, target_res, num_classes applied
  bool n4 = false;            // N4-correct every image first (io/datasets/n4.h), through the cache
  std::string n4_cache;       // the cache folder (default_n4_cache_dir() when the key is empty)
};

// What every stage shares.
struct RunSettings {
  Compat compat = Compat::Paper;
  Device device = Device::CPU;
  Precision precision = Precision::FP32;
  bool deterministic = false;  // GPU: deterministic cuDNN algorithms, chosen without timing
  int seed = 0;
  int threads = 0;  // 0: OpenMP's default
  double lr = 0;
  int log_every = 0, checkpoint_every = 0;
};

struct GlobalSettings {
  GlobalLossKind loss = GlobalLossKind::GD;
  int iterations = 0;
  double tau = 0;
  int partitions = 0, volumes = 0, batch = 0;
  int knn_every = 0;
};

struct LocalSettings {
  LocalLossKind loss = LocalLossKind::LR;
  int iterations = 0;
  double tau = 0;
  int blocks = 0, region = 0, batch = 0;
  int retrieval_every = 0;
};

struct FinetuneSettings {
  FinetuneLoss loss = FinetuneLoss::Dice;
  int iterations = 0, batch = 0;
  double lr = 0;  // the stage's Adam rate: finetune.lr where set, else lr
  int val_every = 0;
  std::string labeled, comb;
  bool augment = true;
  int bn_batches = 0;
};

struct PretextSettings {
  PretextTask task = PretextTask::Rotation;
  int iterations = 0;
  int batch = 0;       // images per step (rotation: batch / 4 slices, each in its 4 turns)
  int patch = 0;       // restoration: patch side in pixels (pretext.patch, or default_restoration_patch)
  int swaps = 0;       // restoration: patch pairs swapped per slice
  int mask = 0;        // inpainting: side of the masked square in pixels (pretext_mask_pixels)
  int probe_every = 0;
};

struct ReproduceSettings {
  std::vector<std::string> labeled;
  std::vector<std::string> combs;  // empty: every combination the split defines (reproduce.combs = all)
  int workers = 0;
  TablePlan table;  // reproduce.rows: the rows and the pre-trainings they share
};

struct Settings {
  DataSettings data;
  RunSettings run;
  GlobalSettings global;
  LocalSettings local;
  FinetuneSettings finetune;
  PretextSettings pretext;
  ReproduceSettings reproduce;
  Config config;  // the same values as keys: the record of a run

  // The value of the stage's method key (global.loss, local.loss, finetune.loss, pretext.task): the
  // name of its entry in experiments/methods/registry.h.
  std::string method(Stage s) const;
  // The Adam learning rate of a stage.
  double learning_rate(Stage s) const { return s == Stage::Finetune ? finetune.lr : run.lr; }
  // The same settings with these values (the config record follows).
  Settings with_data(const std::string& root, const std::string& splits, const std::string& origin) const;
  Settings with_labeled_set(const std::string& labeled, const std::string& comb, const std::string& origin) const;
  Settings with_threads(int threads, const std::string& origin) const;
  Settings with_device(Device d, const std::string& origin) const;
  // The settings of one pre-training of a table: its stage's method (and l), and its held-out probe
  // at least at the first and last step, so that the table can show what it learned.
  Settings with_pretraining(const PretrainRun& run, const std::string& origin) const;
};

// Reads every key of a checked config (Config::validate has run) into Settings.
Settings resolve_settings(const Config& cfg);

// The keys that can change the weights of `stage`: its own section and the shared keys, less those
// that only log or pace a run.
std::vector<std::string> weight_keys(Stage stage);

// An init run must have been trained on the same dataset, image size and resolution; throws naming
// the key, both values and the init folder.
void check_init_matches(const Settings& init, const Settings& now, const std::string& init_dir);

}  // namespace cs
