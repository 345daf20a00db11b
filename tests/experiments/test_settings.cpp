// Settings: every key read once, into types; nothing else reads a key by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/settings.h"

namespace cs {
namespace {

Settings settings_with(const std::vector<std::pair<std::string, std::string>>& keys) {
  Config c;
  for (const auto& [k, v] : keys) c.set(k, v);
  c.validate();
  return resolve_settings(c);
}

TEST(Settings, EveryEnumeratedKeyBecomesItsType) {
  const Settings s = settings_with({{"compat", "reference"},
                                    {"device", "cuda"},
                                    {"precision", "bf16"},
                                    {"global.loss", "gd-"},
                                    {"local.loss", "ld"},
                                    {"finetune.loss", "dice_fg"},
                                    {"pretext.task", "inpainting"},
                                    {"reproduce.labeled", "tr2,tr8"}});
  EXPECT_EQ(s.run.compat, Compat::Reference);
  EXPECT_EQ(s.run.device, Device::CUDA);
  EXPECT_EQ(s.run.precision, Precision::BF16);
  EXPECT_EQ(s.global.loss, GlobalLossKind::GDMinus);
  EXPECT_EQ(s.local.loss, LocalLossKind::LD);
  EXPECT_EQ(s.finetune.loss, FinetuneLoss::DiceForeground);
  EXPECT_EQ(s.pretext.task, PretextTask::Inpainting);
  EXPECT_EQ(s.method(Stage::Pretext), "inpainting");
  EXPECT_EQ(s.reproduce.labeled, (std::vector<std::string>{"tr2", "tr8"}));
  const Settings d = settings_with({});
  EXPECT_EQ(d.run.compat, Compat::Paper);
  EXPECT_EQ(d.global.loss, GlobalLossKind::GD);
  EXPECT_EQ(d.finetune.loss, FinetuneLoss::Dice);
  EXPECT_EQ(d.pretext.task, PretextTask::Rotation);
}

// Every number lands in its own field: distinct values, each read back where it belongs.
TEST(Settings, EveryNumberLandsInItsField) {
  const Settings s = settings_with({{"seed", "11"}, {"threads", "2"}, {"log_every", "3"}, {"checkpoint_every", "4"},
                                    {"global.iterations", "5"}, {"global.tau", "0.6"}, {"global.partitions", "7"},
                                    {"global.volumes", "8"}, {"global.batch", "9"}, {"global.knn_every", "10"},
                                    {"local.iterations", "12"}, {"local.tau", "0.13"}, {"local.blocks", "4"},
                                    {"local.region", "1"}, {"local.batch", "15"}, {"local.retrieval_every", "16"},
                                    {"finetune.iterations", "17"}, {"finetune.batch", "18"}, {"finetune.val_every", "19"},
                                    {"finetune.bn_batches", "20"}, {"finetune.augment", "false"},
                                    {"finetune.labeled", "tr2"}, {"finetune.comb", "c4"}, {"reproduce.workers", "3"},
                                    {"pretext.task", "inpainting"}, {"pretext.iterations", "21"},
                                    {"pretext.batch", "22"}, {"pretext.patch", "23"}, {"pretext.swaps", "24"},
                                    {"pretext.mask_side", "0.25"}, {"pretext.probe_every", "26"},
                                    {"layout", "nnunet"}, {"splits", "s.json"}, {"data", "d"}, {"deterministic", "true"}});
  EXPECT_EQ(s.run.seed, 11);
  EXPECT_EQ(s.run.threads, 2);
  EXPECT_EQ(s.run.log_every, 3);
  EXPECT_EQ(s.run.checkpoint_every, 4);
  EXPECT_EQ(s.global.iterations, 5);
  EXPECT_DOUBLE_EQ(s.global.tau, 0.6);
  EXPECT_EQ(s.global.partitions, 7);
  EXPECT_EQ(s.global.volumes, 8);
  EXPECT_EQ(s.global.batch, 9);
  EXPECT_EQ(s.global.knn_every, 10);
  EXPECT_EQ(s.local.iterations, 12);
  EXPECT_DOUBLE_EQ(s.local.tau, 0.13);
  EXPECT_EQ(s.local.blocks, 4);
  EXPECT_EQ(s.local.region, 1);
  EXPECT_EQ(s.local.batch, 15);
  EXPECT_EQ(s.local.retrieval_every, 16);
  EXPECT_EQ(s.finetune.iterations, 17);
  EXPECT_EQ(s.finetune.batch, 18);
  EXPECT_EQ(s.finetune.val_every, 19);
  EXPECT_EQ(s.finetune.bn_batches, 20);
  EXPECT_FALSE(s.finetune.augment);
  EXPECT_EQ(s.finetune.labeled, "tr2");
  EXPECT_EQ(s.finetune.comb, "c4");
  EXPECT_EQ(s.reproduce.workers, 3);
  EXPECT_EQ(s.pretext.iterations, 21);
  EXPECT_EQ(s.pretext.batch, 22);
  EXPECT_EQ(s.pretext.patch, 23);
  EXPECT_EQ(s.pretext.swaps, 24);
  EXPECT_EQ(s.pretext.mask, 48);  // 0.25 of the 192-pixel side
  EXPECT_EQ(s.pretext.probe_every, 26);
  EXPECT_EQ(s.data.layout, "nnunet");
  EXPECT_EQ(s.data.splits, "s.json");
  EXPECT_EQ(s.data.root, "d");
  EXPECT_EQ(s.data.dataset, "acdc");
  EXPECT_TRUE(s.run.deterministic);
  EXPECT_FALSE(settings_with({}).run.deterministic);
}

TEST(Settings, SizesAndRatesAreResolvedOnce) {
  // 0 = the dataset's: ACDC's 192 pixels and 4 classes, unless set.
  EXPECT_EQ(settings_with({}).data.params.out_h, 192);
  EXPECT_EQ(settings_with({{"dataset", "prostate"}}).data.params.num_classes, 3);
  const Settings s = settings_with({{"image_size", "64"}, {"num_classes", "5"}, {"target_res", "2.5"}});
  EXPECT_EQ(s.data.params.out_h, 64);
  EXPECT_EQ(s.data.params.num_classes, 5);
  EXPECT_DOUBLE_EQ(s.data.params.target_dx, 2.5);
  // finetune.lr = 0 is "lr".
  EXPECT_DOUBLE_EQ(settings_with({{"lr", "0.002"}}).learning_rate(Stage::Finetune), 0.002);
  const Settings own = settings_with({{"lr", "0.002"}, {"finetune.lr", "0.0001"}});
  EXPECT_DOUBLE_EQ(own.learning_rate(Stage::Finetune), 0.0001);
  EXPECT_DOUBLE_EQ(own.learning_rate(Stage::Global), 0.002);
  EXPECT_DOUBLE_EQ(own.learning_rate(Stage::Pretext), 0.002);
  // The pretext corruptions in pixels: pretext.patch 0 is the side / 12, the mask a fraction of it.
  EXPECT_EQ(settings_with({}).pretext.patch, 16);
  EXPECT_EQ(settings_with({}).pretext.mask, 96);
  EXPECT_EQ(settings_with({{"dataset", "mmwhs"}}).pretext.patch, 13);
  EXPECT_EQ(settings_with({{"image_size", "64"}, {"pretext.mask_side", "0.3"}}).pretext.mask, 19);
  EXPECT_EQ(settings_with({{"image_size", "64"}, {"pretext.patch", "7"}}).pretext.patch, 7);
}

TEST(Settings, EditsKeepTheRecordInStep) {
  const Settings s = settings_with({}).with_labeled_set("tr8", "c3", "reproduce").with_threads(3, "test");
  EXPECT_EQ(s.finetune.labeled, "tr8");
  EXPECT_EQ(s.finetune.comb, "c3");
  EXPECT_EQ(s.run.threads, 3);
  EXPECT_EQ(resolve_settings(s.config).finetune.comb, "c3");  // what a run folder records
  EXPECT_EQ(s.config.to_json()["finetune"]["labeled"], "tr8");
  EXPECT_EQ(s.with_device(Device::CUDA, "--device").run.device, Device::CUDA);
}

TEST(Settings, StageNamesRoundTrip) {
  for (Stage s : all_stages()) EXPECT_EQ(parse_stage(stage_name(s)), s);
  EXPECT_EQ(all_stages().size(), 4u);
  EXPECT_EQ(parse_stage("pretrain-pretext"), Stage::Pretext);
  EXPECT_THROW(parse_stage("pretrain"), std::invalid_argument);
}

TEST(Settings, WeightKeysLeaveOutWhatOnlyLogsOrPaces) {
  const auto keys = weight_keys(Stage::Global);
  auto has = [&](const char* k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  EXPECT_TRUE(has("global.tau"));
  EXPECT_TRUE(has("seed"));
  EXPECT_FALSE(has("local.tau"));  // another stage's section
  EXPECT_FALSE(has("threads"));
  EXPECT_FALSE(has("deterministic"));  // like threads, it changes only the rounding (on a GPU)
  EXPECT_FALSE(has("global.knn_every"));
  EXPECT_FALSE(has("log_every"));
  EXPECT_FALSE(has("pretext.task"));  // another stage's section
  const auto pretext = weight_keys(Stage::Pretext);
  auto in_pretext = [&](const char* k) { return std::find(pretext.begin(), pretext.end(), k) != pretext.end(); };
  for (const char* k : {"pretext.task", "pretext.batch", "pretext.patch", "pretext.swaps", "pretext.mask_side", "lr"})
    EXPECT_TRUE(in_pretext(k)) << k;
  EXPECT_FALSE(in_pretext("pretext.probe_every"));
  EXPECT_FALSE(in_pretext("global.tau"));
}

// The program reads settings through the structs: a key's name appears in a read only in the
// resolver (experiments/settings.cpp) and the config itself (experiments/config.cpp). A read by
// name anywhere else fails here, naming the file and the line.
TEST(Settings, NoSourceReadsAKeyByName) {
  namespace fs = std::filesystem;
  const fs::path root = CONTRASEG_SOURCE_DIR;
  const std::regex read_by_name(R"(\.(str|integer|real|boolean|list)\(\s*")");
  std::vector<std::string> found;
  int files = 0;
  for (const char* part : {"autograd", "ops", "nn", "losses", "io", "experiments", "bench"})
    for (const auto& e : fs::recursive_directory_iterator(root / part)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".cpp" && ext != ".h" && ext != ".cu") continue;
      const std::string rel = fs::relative(e.path(), root).string();
      if (rel == "experiments/settings.cpp" || rel == "experiments/config.cpp") continue;
      ++files;
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n)
        if (std::regex_search(line, read_by_name)) found.push_back(rel + ":" + std::to_string(n) + ": " + line);
    }
  EXPECT_GT(files, 50);  // the tree was found
  std::ostringstream all;
  for (const auto& f : found) all << f << "\n";
  EXPECT_TRUE(found.empty()) << "config keys read by name outside experiments/settings.cpp:\n" << all.str();
}

}  // namespace
}  // namespace cs
