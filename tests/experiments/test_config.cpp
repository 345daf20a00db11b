// Config resolution: defaults, JSON file, --set overrides, and clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "experiments/config.h"
#include "experiments/pipeline/data.h"
#include "io/datasets/preprocess.h"
#include "nn/unet.h"

namespace cs {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The message of the std::exception `fn` throws ("" when it throws none).
template <typename Fn>
std::string message_of(Fn fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string write_temp(const std::string& text) {
  char name[] = "/tmp/cs_config_XXXXXX";
  const int fd = mkstemp(name);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

TEST(Config, DefaultsFollowTheMethod) {
  Config c;
  EXPECT_EQ(c.str("compat"), "paper");
  EXPECT_DOUBLE_EQ(c.real("lr"), 1e-3);
  EXPECT_DOUBLE_EQ(c.real("global.tau"), 0.1);
  EXPECT_EQ(c.integer("global.iterations"), 10001);
  EXPECT_EQ(c.integer("finetune.batch"), 20);
  EXPECT_EQ(c.integer("local.batch"), 10);
  EXPECT_EQ(c.integer("local.blocks"), 3);
}

TEST(Config, FileThenOverride) {
  const auto path = write_temp(R"({"dataset": "mmwhs", "global": {"iterations": 50, "tau": 0.5}})");
  Config c;
  c.load_file(path);
  c.apply_override("global.iterations=7");
  EXPECT_EQ(c.str("dataset"), "mmwhs");
  EXPECT_EQ(c.integer("global.iterations"), 7);
  EXPECT_DOUBLE_EQ(c.real("global.tau"), 0.5);
  std::remove(path.c_str());
}

TEST(Config, ErrorsNameTheKeyAndFile) {
  const auto path = write_temp(R"({"global": {"iteratons": 5}})");
  Config c;
  try {
    c.load_file(path);
    FAIL() << "unknown key accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("global.iteratons"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  std::remove(path.c_str());
  EXPECT_THROW(c.apply_override("lr=fast"), std::invalid_argument);
  EXPECT_THROW(c.apply_override("compat=tf"), std::invalid_argument);
  EXPECT_THROW(c.apply_override("nokey"), std::invalid_argument);
  EXPECT_THROW(c.apply_override("seed=-3"), std::invalid_argument);
}

TEST(Config, MalformedJsonIsAClearError) {
  const auto path = write_temp("{\"dataset\": ");
  Config c;
  EXPECT_THROW(c.load_file(path), std::runtime_error);
  EXPECT_THROW(c.load_file("/nonexistent/config.json"), std::runtime_error);
  std::remove(path.c_str());
}

TEST(Config, JsonRoundTrip) {
  Config a;
  a.apply_override("finetune.augment=false");
  a.apply_override("global.tau=0.25");
  const auto path = write_temp(a.to_json().dump());
  Config b;
  b.load_file(path);
  EXPECT_EQ(a.to_text(), b.to_text());
  std::remove(path.c_str());
}

// The dataset constants of docs/method.md §6.1 live twice, as the network's shape (nn) and as the
// preprocessing target (io), which do not depend on each other: they must agree.
TEST(Config, DatasetConstantsAgreeBetweenNetworkAndPreprocessing) {
  for (const char* d : {"acdc", "prostate", "mmwhs"}) {
    const DatasetGeometry g = dataset_geometry(d);
    const PreprocessParams p = dataset_params(d);
    EXPECT_EQ(g.image_size, p.out_h) << d;
    EXPECT_EQ(g.image_size, p.out_w) << d;
    EXPECT_EQ(g.num_classes, p.num_classes) << d;
    EXPECT_EQ(static_cast<int>(p.class_names.size()), p.num_classes) << d;
  }
}

TEST(Config, ImageSizeOverrideMustBeAMultipleOf32) {
  Config c;
  c.apply_override("image_size=96");
  EXPECT_EQ(resolve_settings(c).data.params.out_h, 96);
  EXPECT_EQ(message_of([&] { c.apply_override("image_size=100"); }),
            "--set: image_size = '100' is not a multiple of 32; allowed: 0 or a multiple of 32 in [32, 1024]");
  EXPECT_EQ(c.integer("image_size"), 96);  // a refused value leaves the key as it was
}

// The values at the edges of every numeric key's range: each `accepted` one is taken, each
// `refused` one refused with a message naming the key, the value and the allowed range.
struct RangeCase {
  std::string key;
  std::vector<std::string> accepted, refused;
};

const std::vector<RangeCase>& range_cases() {
  static const std::vector<RangeCase> cases = {
      {"seed", {"0", "2147483647"}, {"-1", "2147483648"}},
      {"threads", {"0", "1024"}, {"-1", "1025"}},
      {"image_size", {"0", "32", "1024"}, {"-32", "31", "16", "1056", "100"}},
      {"target_res", {"0", "100"}, {"-0.001", "100.001"}},
      {"num_classes", {"0", "2", "32"}, {"-1", "1", "33"}},
      {"lr", {"1e-09", "1"}, {"0", "1.0001"}},
      {"log_every", {"1", "2147483647"}, {"0"}},
      {"checkpoint_every", {"1", "2147483647"}, {"0"}},
      {"global.iterations", {"1", "100000000"}, {"0", "100000001"}},
      {"global.tau", {"1e-06", "100"}, {"0", "100.5"}},
      {"global.partitions", {"1"}, {"0"}},
      {"global.volumes", {"2"}, {"1"}},
      {"global.batch", {"2"}, {"1"}},
      {"global.knn_every", {"0", "100000000"}, {"-1", "100000001"}},
      {"local.retrieval_every", {"0", "100000000"}, {"-1", "100000001"}},
      {"local.iterations", {"1", "100000000"}, {"0", "100000001"}},
      {"local.tau", {"1e-06", "100"}, {"0", "100.5"}},
      {"local.blocks", {"1", "5"}, {"0", "6"}},
      {"local.region", {"1", "3"}, {"0", "2", "4"}},
      {"local.batch", {"1"}, {"0"}},
      {"finetune.iterations", {"1", "100000000"}, {"0", "100000001"}},
      {"finetune.batch", {"1"}, {"0"}},
      {"finetune.val_every", {"1"}, {"0"}},
      {"finetune.bn_batches", {"0", "100"}, {"-1", "101"}},
      {"finetune.lr", {"0", "1e-09", "1"}, {"-1e-09", "1.0001"}},
      {"reproduce.workers", {"0", "1", "1024"}, {"-1", "1025"}},
      {"pretext.iterations", {"1", "100000000"}, {"0", "100000001"}},
      {"pretext.batch", {"1", "2147483647"}, {"0"}},
      {"pretext.patch", {"0", "1", "1024"}, {"-1", "1025"}},
      {"pretext.swaps", {"1", "1000"}, {"0", "1001"}},
      {"pretext.mask_side", {"0.001", "0.9"}, {"0", "0.9001"}},
      {"pretext.probe_every", {"0", "100000000"}, {"-1", "100000001"}},
  };
  return cases;
}

TEST(Config, EveryNumericKeyHasItsRange) {
  for (const auto& s : config_schema()) {
    if (s.type != KeyType::Int && s.type != KeyType::Float) continue;
    const bool listed = std::any_of(range_cases().begin(), range_cases().end(),
                                    [&](const RangeCase& c) { return c.key == s.key; });
    EXPECT_TRUE(listed) << s.key << " has no range case";
  }
  for (const auto& c : range_cases()) {
    const KeySpec& s = *std::find_if(config_schema().begin(), config_schema().end(),
                                     [&](const KeySpec& k) { return k.key == c.key; });
    for (const auto& v : c.accepted) {
      Config cfg;
      EXPECT_NO_THROW(cfg.set(c.key, v)) << c.key << " = " << v;
      EXPECT_EQ(cfg.str(c.key), v) << c.key;
    }
    for (const auto& v : c.refused) {
      Config cfg;
      const std::string msg = message_of([&] { cfg.set(c.key, v); });
      EXPECT_EQ(msg.rfind("--set: " + c.key + " = '" + v + "' ", 0), 0u) << msg;
      EXPECT_TRUE(ends_with(msg, "; allowed: " + describe_values(s))) << msg;
    }
  }
}

TEST(Config, DescribesWhatEachKeyAllows) {
  auto described = [](const std::string& key) {
    for (const auto& s : config_schema())
      if (s.key == key) return describe_values(s);
    return std::string("no such key");
  };
  const std::map<std::string, std::string> allowed = {
      {"finetune.batch", "integer >= 1"},
      {"global.volumes", "integer >= 2"},
      {"lr", "number in (0, 1]"},
      {"global.tau", "number in [1e-06, 100]"},
      {"target_res", "number in [0, 100]"},
      {"image_size", "0 or a multiple of 32 in [32, 1024]"},
      {"num_classes", "0 or integer in [2, 32]"},
      {"seed", "integer in [0, 2147483647]"},
      {"finetune.iterations", "integer in [1, 100000000]"},
      {"local.region", "1|3"},
      {"reproduce.combs", "comma-separated list of c1|c2|c3|c4|c5|all"},
      {"dataset", "acdc|prostate|mmwhs"},
      {"finetune.augment", "true|false"},
      {"deterministic", "true|false"}};
  for (const auto& [key, values] : allowed) EXPECT_EQ(described(key), values) << key;
}

TEST(Config, IntegersBeyondTheIntRangeAndMalformedNumbers) {
  Config c;
  EXPECT_EQ(message_of([&] { c.apply_override("finetune.iterations=999999999999"); }),
            "--set: finetune.iterations = '999999999999' is beyond the integer range [-2147483648, 2147483647]; "
            "allowed: integer in [1, 100000000]");
  EXPECT_EQ(message_of([&] { c.apply_override("finetune.batch=99999999999999999999999"); }),
            "--set: finetune.batch = '99999999999999999999999' is beyond the integer range [-2147483648, "
            "2147483647]; allowed: integer >= 1");
  EXPECT_EQ(message_of([&] { c.apply_override("finetune.batch=4x"); }),
            "--set: finetune.batch = '4x' is not an integer; allowed: integer >= 1");
  EXPECT_EQ(message_of([&] { c.apply_override("finetune.batch="); }),
            "--set: finetune.batch = '' is not an integer; allowed: integer >= 1");
  for (const char* v : {"nan", "inf", "1e999", "0.1x", ""})
    EXPECT_EQ(message_of([&] { c.set("lr", v); }),
              std::string("--set: lr = '") + v + "' is not a finite number; allowed: number in (0, 1]");
  c.apply_override("finetune.batch=007");
  EXPECT_EQ(c.str("finetune.batch"), "7");
}

TEST(Config, ListsAreCheckedItemByItem) {
  Config c;
  c.apply_override("reproduce.labeled=tr1,trall");
  EXPECT_EQ(c.str("reproduce.labeled"), "tr1,trall");
  EXPECT_EQ(message_of([&] { c.apply_override("reproduce.combs=c1,c9"); }),
            "--set: reproduce.combs = 'c1,c9' has 'c9', which is not one of the allowed values; allowed: "
            "comma-separated list of c1|c2|c3|c4|c5|all");
  EXPECT_NE(message_of([&] { c.apply_override("reproduce.combs=c1,,c2"); }).find("has ''"), std::string::npos);
  EXPECT_NE(message_of([&] { c.apply_override("reproduce.labeled="); }).find("is an empty list"), std::string::npos);
}

TEST(Config, JsonValuesOfTheWrongTypeNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"dataset": 3})", "dataset = '3' is a JSON number, not a string; allowed: acdc|prostate|mmwhs"},
      {R"({"lr": "0.1"})", "lr = '\"0.1\"' is a JSON string, not a number; allowed: number in (0, 1]"},
      {R"({"seed": 1.5})", "seed = '1.5' is a JSON number, not an integer"},
      {R"({"finetune": {"augment": "yes"}})", "finetune.augment = '\"yes\"' is a JSON string, not true or false"},
      {R"({"data": null})", "data = 'null' is a JSON null, not a string; allowed: path"},
      {R"({"reproduce": {"labeled": ["tr1"]}})", "reproduce.labeled is a JSON array; a config value is a string"},
      {R"({"global": {"iterations": 1e12}})", "global.iterations = '1000000000000.0' is a JSON number, not an integer"},
      {R"({"global": {"iterations": 99999999999}})", "global.iterations = '99999999999' is beyond the integer range"},
  };
  for (const auto& [text, expected] : cases) {
    Config c;
    const std::string msg = message_of([&] { c.load_json(nlohmann::json::parse(text), "cfg.json"); });
    EXPECT_EQ(msg.rfind("cfg.json: " + expected, 0), 0u) << text << "\n" << msg;
  }
  Config c;  // a whole number is a number
  c.load_json(nlohmann::json::parse(R"({"target_res": 8, "lr": 1e-4})"), "cfg.json");
  EXPECT_DOUBLE_EQ(c.real("target_res"), 8.0);
  EXPECT_DOUBLE_EQ(c.real("lr"), 1e-4);
}

// Found by fuzzing the loader: unbounded nesting, a key given twice, NUL in a value.
TEST(Config, ShallowJsonOnlyAndEveryKeyOnce) {
  const auto nested = [](const std::string& open, const std::string& close, int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += "1";
    for (int i = 0; i < depth; ++i) s += close;
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"a\":" + nested("{\"a\":", "}", 100000) + "}", "nested deeper than any config key"},
      {"{\"seed\":" + nested("[", "]", 100000) + "}", "seed is a JSON array"},
      {R"({"global.loss": "gr", "global": {"loss": "gd"}})", "global.loss is given twice"},
      {"{\"data\": \"a\\u0000b\"}", "contains a NUL character"},
  };
  for (const auto& [text, expected] : cases) {
    Config c;
    const std::string msg = message_of([&] { c.load_json(nlohmann::json::parse(text), "cfg.json"); });
    EXPECT_EQ(msg.rfind("cfg.json: ", 0), 0u) << msg.substr(0, 200);
    EXPECT_NE(msg.find(expected), std::string::npos) << msg.substr(0, 200);
    EXPECT_LT(msg.size(), 300u);
  }
}

TEST(Config, ConfigFilesThatCannotBeRead) {
  char dir_template[] = "/tmp/cs_config_dir_XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  Config c;
  EXPECT_EQ(message_of([&] { c.load_file(dir); }), dir + ": is a directory, not a config file");
  EXPECT_EQ(message_of([&] { c.load_file(dir + "/missing.json"); }),
            dir + "/missing.json: cannot open config file: No such file or directory");
  const std::string plain = dir + "/plain";
  std::ofstream(plain) << "{}";
  EXPECT_EQ(message_of([&] { c.load_file(plain + "/c.json"); }),
            plain + "/c.json: cannot open config file: Not a directory");
  if (geteuid() != 0) {  // root reads whatever the permission bits say
    const std::string locked = dir + "/locked.json";
    std::ofstream(locked) << "{}";
    chmod(locked.c_str(), 0);
    EXPECT_EQ(message_of([&] { c.load_file(locked); }), locked + ": cannot open config file: Permission denied");
    std::remove(locked.c_str());
  }
  std::remove(plain.c_str());
  rmdir(dir.c_str());
}

TEST(Config, SaveReportsThePathAndTheCause) {
  char dir_template[] = "/tmp/cs_config_dir_XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string plain = dir + "/plain";
  std::ofstream(plain) << "x";
  const Config c;
  EXPECT_EQ(message_of([&] { c.save(plain + "/config.json"); }), plain + "/config.json: cannot create: Not a directory");
  EXPECT_EQ(message_of([&] { c.save(dir + "/missing/config.json"); }),
            dir + "/missing/config.json: cannot create: No such file or directory");
  c.save(dir + "/config.json");
  Config back;
  back.load_file(dir + "/config.json");
  EXPECT_EQ(back.to_text(), c.to_text());
  std::remove((dir + "/config.json").c_str());
  std::remove(plain.c_str());
  EXPECT_EQ(rmdir(dir.c_str()), 0) << "a temporary file was left behind";
}

// Checks between keys run once everything is applied, so the order of the sources does not matter.
TEST(Config, ValidateRefusesValuesThatDoNotWorkTogether) {
  Config c;
  c.apply_override("local.blocks=1");  // fine on its own, and at the dataset's 192 pixels
  EXPECT_NO_THROW(c.validate());
  c.apply_override("image_size=32");
  EXPECT_EQ(message_of([&] { c.validate(); }),
            "--set: local.blocks = '1' gives 2x2 feature maps for 32x32 inputs, too small for 3x3 local regions "
            "(local.region); allowed: local.blocks in [2, 5] for this image size, or local.region 1");
  c.apply_override("local.region=1");
  EXPECT_NO_THROW(c.validate());

  Config w;
  w.apply_override("finetune.loss=wce");
  EXPECT_NO_THROW(w.validate());  // acdc: 4 classes
  w.apply_override("num_classes=5");
  EXPECT_EQ(message_of([&] { w.validate(); }),
            "--set: finetune.loss = 'wce' has no class weights for 5 classes (num_classes, or the dataset's); "
            "allowed: dice|dice_fg, or wce with 3|4|8 classes");
}

TEST(Config, UnknownKeysNameWhereTheyCameFrom) {
  Config c;
  EXPECT_EQ(message_of([&] { c.apply_override("finetune.iters=3"); }),
            "--set: unknown config key 'finetune.iters' (contraseg config lists the keys)");
}

}  // namespace
}  // namespace cs
