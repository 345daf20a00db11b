#include "experiments/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/atomic_file.h"
#include "io/paths.h"
#include "losses/local.h"
#include "losses/segmentation.h"
#include "nn/unet.h"

namespace cs {

namespace {

constexpr double kMaxIterations = 1e8;
constexpr double kMaxSeed = std::numeric_limits<int>::max();  // seeds are read as int (Config::integer)
constexpr double kMaxThreads = 1024;
constexpr double kMaxTemperature = 100;
// Logits are similarities / tau in fp32: below this they reach 1e6 and their gradients overflow
// long before tau itself rounds to 0 (1e-40 is 0 as a float).
constexpr double kMinTemperature = 1e-6;
constexpr double kMaxResolutionMm = 100;
constexpr double kMaxImageSize = 1024;
constexpr int kImageSizeStep = 32;  // five 2x2 poolings in the UNet's encoder
constexpr int kDecoderBlocks = 5;  // nn/unet.h: decoder blocks 1..5
constexpr int kRotationTurns = 4;  // the rotation pretext task's 0, 90, 180 and 270 degrees

NumericRange between(double lo, double hi) {
  NumericRange r;
  r.min = lo;
  r.max = hi;
  return r;
}
NumericRange at_least(double lo) { return between(lo, std::numeric_limits<double>::infinity()); }
NumericRange above_up_to(double lo, double hi) {
  NumericRange r = between(lo, hi);
  r.min_open = true;
  return r;
}
NumericRange zero_or(NumericRange r) {
  r.or_zero = true;
  return r;
}
NumericRange multiples_of(int step, NumericRange r) {
  r.multiple_of = step;
  return r;
}

}  // namespace

const std::vector<KeySpec>& config_schema() {
  using K = KeyType;
  static const std::vector<std::string> labeled_sets = {"tr1", "tr2", "tr8", "trall"};
  static const std::vector<std::string> combinations = {"c1", "c2", "c3", "c4", "c5"};
  static const std::vector<std::string> combinations_or_all = {"c1", "c2", "c3", "c4", "c5", kAllCombinations};
  static const std::vector<KeySpec> schema = {
      {"dataset", K::String, "acdc", "dataset: sets image size, classes and resolution", {"acdc", "prostate", "mmwhs"}},
      {"data", K::Path, "", "dataset root directory (the dataset's own layout)", {}},
      {"splits", K::Path, "", "split file (default: DATA/splits.json, else the dataset's paper split; see contraseg split)", {}},
      {"layout", K::String, "auto", "directory layout (auto: the dataset's)", {"auto", "acdc", "msd", "mmwhs", "nnunet"}},
      {"n4", K::Bool, "false",
       "N4 bias-field correction of every image before normalisation, as the paper did (docs/method.md §6.2; needs a "
       "build with ITK); corrected volumes are cached (n4_cache)", {}},
      {"n4_cache", K::Path, "",
       "folder of cached N4-corrected volumes (empty: $XDG_CACHE_HOME/contraseg/n4, else ~/.cache/contraseg/n4)", {}},
      {"compat", K::String, "paper", "paper: the method as described; reference: the released code's quirks", {"paper", "reference"}},
      {"device", K::String, "cpu", "where to train", {"cpu", "cuda"}},
      {"seed", K::Int, "0", "seed for sampling, augmentation and initialisation", {}, between(0, kMaxSeed)},
      {"threads", K::Int, "0", "CPU threads (0 = all cores)", {}, between(0, kMaxThreads)},
      {"precision", K::String, "fp32",
       "convolutions and linear layers: fp32, or bf16 operands with fp32 accumulation (bf16 kernels where the CPU has "
       "AVX512-BF16 or AMX, else emulated: docs/performance.md)",
       {"fp32", "bf16"}},
      {"deterministic", K::Bool, "false",
       "on a GPU, deterministic cuDNN convolution algorithms only, chosen without timing: runs and resumes on the "
       "same GPU model and library versions are bit-identical (the CPU always is: docs/performance.md §6)", {}},
      {"image_size", K::Int, "0", "network input side in pixels (0 = the dataset's, docs/method.md §6.1)", {},
       zero_or(multiples_of(kImageSizeStep, between(kImageSizeStep, kMaxImageSize)))},
      {"target_res", K::Float, "0", "in-plane resolution in mm (0 = the dataset's)", {}, between(0, kMaxResolutionMm)},
      {"num_classes", K::Int, "0", "classes incl. background (0 = the dataset's)", {}, zero_or(between(2, kMaxClasses))},
      {"lr", K::Float, "0.001", "Adam learning rate (all stages; finetune.lr, where set, in stage 3)", {}, above_up_to(0, 1)},
      {"log_every", K::Int, "10", "steps between log lines", {}, at_least(1)},
      {"checkpoint_every", K::Int, "500", "steps between 'latest' checkpoints (for --resume)", {}, at_least(1)},
      // stage 1
      {"global.loss", K::String, "gd", "global loss: gr (random), gd- or gd", {"gr", "gd-", "gd"}},
      {"global.iterations", K::Int, "10001", "stage-1 iterations", {}, between(1, kMaxIterations)},
      {"global.tau", K::Float, "0.1", "temperature", {}, between(kMinTemperature, kMaxTemperature)},
      {"global.partitions", K::Int, "4", "partitions per volume (S)", {}, at_least(1)},
      // G^D's negatives come from the other volumes of the batch
      {"global.volumes", K::Int, "6", "volumes per batch in paper mode (V; batch = V x S x 2)", {}, at_least(2)},
      {"global.knn_every", K::Int, "0",
       "steps between k-NN partition accuracies of held-out volumes' g1 embeddings in the log (0: none); "
       "pictures/ then shows the embeddings and the first batch's similarity matrix before and after", {},
       between(0, kMaxIterations)},
      {"global.batch", K::Int, "12", "bt_size: slices per view set (reference layout and G^R)", {}, at_least(2)},
      // stage 2
      {"local.loss", K::String, "lr", "local loss: lr (random) or ld", {"lr", "ld"}},
      {"local.iterations", K::Int, "10001", "stage-2 iterations", {}, between(1, kMaxIterations)},
      {"local.tau", K::Float, "0.1", "temperature", {}, between(kMinTemperature, kMaxTemperature)},
      {"local.blocks", K::Int, "3", "decoder blocks pre-trained (l)", {}, between(1, kDecoderBlocks)},
      {"local.region", K::Int, "3", "local region side: 3 (3x3, flattened + dense) or 1", {"1", "3"}},
      {"local.batch", K::Int, "10", "slices per batch (two views each)", {}, at_least(1)},
      {"local.retrieval_every", K::Int, "0",
       "steps between region and class retrieval accuracies of held-out view pairs in the log (0: none); "
       "pictures/ then shows query pixels' similarity maps before and after", {},
       between(0, kMaxIterations)},
      // stage 3
      {"finetune.iterations", K::Int, "10001", "fine-tuning iterations", {}, between(1, kMaxIterations)},
      {"finetune.batch", K::Int, "20", "fine-tuning batch", {}, at_least(1)},
      {"finetune.lr", K::Float, "0", "fine-tuning Adam learning rate (0 = lr)", {}, zero_or(above_up_to(0, 1))},
      {"finetune.loss", K::String, "dice", "dice (with background), dice_fg or wce", {"dice", "dice_fg", "wce"}},
      {"finetune.val_every", K::Int, "50", "iterations between validations (best checkpoint)", {}, at_least(1)},
      {"finetune.labeled", K::String, "tr1", "labelled set", labeled_sets},
      {"finetune.comb", K::String, "c1", "combination of the labelled set", combinations},
      {"finetune.augment", K::Bool, "true", "affine + elastic augmentation", {}},
      {"finetune.bn_batches", K::Int, "0",
       "before each validation, set the BN moving statistics to the mean batch statistics of this many "
       "latest training batches (0: keep the moving averages, as the method does)", {}, between(0, 100)},
      // pretext-task pre-training (docs/method.md §8)
      {"pretext.task", K::String, "rotation",
       "pretext task: rotation (predict a slice's turn; trains the encoder), restoration (undo swapped patches) "
       "or inpainting (fill a masked square; both train encoder and decoder)",
       {"rotation", "restoration", "inpainting"}},
      {"pretext.iterations", K::Int, "10001", "pretext pre-training iterations", {}, between(1, kMaxIterations)},
      {"pretext.batch", K::Int, "20",
       "images per step (rotation: batch / 4 slices, each in its 4 turns, so a multiple of 4)", {}, at_least(1)},
      {"pretext.patch", K::Int, "0",
       "restoration: side of the swapped patches in pixels (0 = image side / 12: 16 at 192)", {},
       between(0, kMaxImageSize)},
      {"pretext.swaps", K::Int, "10", "restoration: patch pairs swapped per slice (T)", {}, between(1, 1000)},
      {"pretext.mask_side", K::Float, "0.5",
       "inpainting: side of the masked square as a fraction of the slice side (0.5: a quarter of its area)", {},
       above_up_to(0, 0.9)},
      {"pretext.probe_every", K::Int, "0",
       "steps between held-out probe readings in the log (0: none): rotation accuracy, or the reconstruction "
       "error against the corrupted input's", {}, between(0, kMaxIterations)},
      // reproduce
      {"reproduce.labeled", K::String, "tr1,tr2,tr8", "labelled sets of the table", labeled_sets, {}, true},
      {"reproduce.combs", K::String, "all",
       "combinations averaged per cell: all (every combination the split defines for each set: the released "
       "protocol, tr1 c1-c5, tr2 c1-c5, tr8 c1-c3) or a list",
       combinations_or_all, {}, true},
      {"reproduce.rows", K::String, kDefaultRows,
       "the table's rows: a preset (paper-main, paper-ablation, paper-comparison) or a list of initialisations: "
       "random, gr|gd-|gd, a global and a local method (gd+lr, gd+lr@l2 for l = 2), rotation|restoration|inpainting "
       "(docs/method.md §9)", {}},
      {"reproduce.workers", K::Int, "1",
       "fine-tuning runs trained at a time on the CPU (0: one per thread, each on one thread; W > 1: W runs "
       "sharing the threads; 1: one after another on all threads)", {}, between(0, kMaxThreads)},
  };
  return schema;
}

const std::vector<std::string>& config_choices(const std::string& key) {
  for (const auto& s : config_schema())
    if (s.key == key) return s.choices;
  throw std::invalid_argument("unknown config key '" + key + "'");
}

namespace {

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string all;
  for (const auto& c : items) all += (all.empty() ? "" : sep) + c;
  return all;
}

std::string format_bound(KeyType type, double x) {
  return type == KeyType::Int ? std::to_string(static_cast<long long>(x)) : fmt::format("{}", x);
}

std::string describe_range(KeyType type, const NumericRange& r) {
  std::string what = type == KeyType::Float ? "number"
                     : r.multiple_of > 1    ? "a multiple of " + std::to_string(r.multiple_of)
                                            : "integer";
  const bool has_min = std::isfinite(r.min), has_max = std::isfinite(r.max);
  if (has_min && has_max)
    what += fmt::format(" in {}{}, {}]", r.min_open ? "(" : "[", format_bound(type, r.min), format_bound(type, r.max));
  else if (has_min)
    what += (r.min_open ? " > " : " >= ") + format_bound(type, r.min);
  else if (has_max)
    what += " <= " + format_bound(type, r.max);
  return r.or_zero ? "0 or " + what : what;
}

// A value or key as messages show it: a long one is cut, with its length, rather than echoed whole.
std::string shown(const std::string& text) {
  constexpr size_t kShown = 80;
  if (text.size() <= kShown) return text;
  return text.substr(0, kShown) + "... (" + std::to_string(text.size()) + " characters)";
}

// The one format of every value error, so that all of them read alike.
std::invalid_argument value_error(const std::string& origin, const std::string& key, const std::string& value,
                                  const std::string& problem, const std::string& allowed) {
  return std::invalid_argument(origin + ": " + shown(key) + " = '" + shown(value) + "' " + problem +
                               "; allowed: " + allowed);
}

bool in_range(const NumericRange& r, double x) {
  if (r.or_zero && x == 0) return true;
  if (r.min_open ? !(x > r.min) : !(x >= r.min)) return false;
  return x <= r.max;
}

}  // namespace

std::string describe_values(const KeySpec& s) {
  switch (s.type) {
    case KeyType::String:
      if (s.list) return "comma-separated list of " + join(s.choices, "|");
      return s.choices.empty() ? "text" : join(s.choices, "|");
    case KeyType::Path: return "path";
    case KeyType::Int:
    case KeyType::Float: return s.choices.empty() ? describe_range(s.type, s.range) : join(s.choices, "|");
    case KeyType::Bool: return "true|false";
  }
  return "";
}

Config::Config() {
  for (const auto& s : config_schema()) {
    values_[s.key] = s.default_value;
    origins_[s.key] = "the defaults";
  }
}

const KeySpec& Config::spec(const std::string& key) const {
  for (const auto& s : config_schema())
    if (s.key == key) return s;
  throw std::invalid_argument("unknown config key '" + key + "'");
}

namespace {

bool is_choice(const KeySpec& s, const std::string& v) {
  return std::find(s.choices.begin(), s.choices.end(), v) != s.choices.end();
}

// The value in canonical form ("007" -> "7", "8.0" -> "8"), or an error naming what is wrong.
std::string check_value(const KeySpec& s, const std::string& v, const std::string& origin) {
  auto bad = [&](const std::string& problem) { return value_error(origin, s.key, v, problem, describe_values(s)); };
  if (v.find('\0') != std::string::npos) {  // C file calls would see only what comes before it
    std::string shown;
    for (char c : v) shown += c ? std::string(1, c) : std::string("\\0");
    throw value_error(origin, s.key, shown, "contains a NUL character", describe_values(s));
  }
  switch (s.type) {
    case KeyType::Int: {
      long long x = 0;
      const char* end = v.data() + v.size();
      const auto [stop, ec] = std::from_chars(v.data(), end, x);
      if (v.empty() || ec == std::errc::invalid_argument || stop != end) throw bad("is not an integer");
      if (ec == std::errc::result_out_of_range || x < std::numeric_limits<int>::min() ||
          x > std::numeric_limits<int>::max())
        throw bad(fmt::format("is beyond the integer range [{}, {}]", std::numeric_limits<int>::min(),
                              std::numeric_limits<int>::max()));
      const std::string canonical = std::to_string(x);
      if (!s.choices.empty()) {
        if (!is_choice(s, canonical)) throw bad("is not one of the allowed values");
        return canonical;
      }
      if (!in_range(s.range, static_cast<double>(x))) throw bad("is out of range");
      if (x != 0 && x % s.range.multiple_of != 0) throw bad("is not a multiple of " + std::to_string(s.range.multiple_of));
      return canonical;
    }
    case KeyType::Float: {
      char* stop = nullptr;
      const double x = v.empty() ? 0 : std::strtod(v.c_str(), &stop);
      if (v.empty() || stop != v.c_str() + v.size() || !std::isfinite(x)) throw bad("is not a finite number");
      if (!in_range(s.range, x)) throw bad("is out of range");
      return fmt::format("{}", x);  // canonical: "8", "8.0" and "8e0" compare equal afterwards
    }
    case KeyType::Bool:
      if (v == "true" || v == "1" || v == "yes") return "true";
      if (v == "false" || v == "0" || v == "no") return "false";
      throw bad("is not a boolean");
    case KeyType::String:
      if (s.list) {
        std::vector<std::string> items;
        std::stringstream in(v);
        for (std::string item; std::getline(in, item, ',');) items.push_back(item);
        if (items.empty()) throw bad("is an empty list");
        for (const auto& item : items) {
          if (!is_choice(s, item)) throw bad("has '" + item + "', which is not one of the allowed values");
          if (item == kAllCombinations && items.size() > 1)
            throw bad("has 'all' beside other values: 'all' stands alone");
        }
        return v;
      }
      if (!s.choices.empty() && !is_choice(s, v)) throw bad("is not one of the allowed values");
      return v;
    case KeyType::Path: return v;
  }
  return v;
}

// A JSON value as the text `set` takes, or an error when its JSON type is not the key's.
std::string json_value_text(const KeySpec& s, const nlohmann::json& v, const std::string& origin) {
  bool ok = false;
  const char* expected = "";
  switch (s.type) {
    case KeyType::String:
    case KeyType::Path:
      ok = v.is_string();
      expected = "a string";
      break;
    case KeyType::Int:
      ok = v.is_number_integer();
      expected = "an integer";
      break;
    case KeyType::Float:
      ok = v.is_number();
      expected = "a number";
      break;
    case KeyType::Bool:
      ok = v.is_boolean();
      expected = "true or false";
      break;
  }
  if (!ok)
    throw value_error(origin, s.key, v.dump(), fmt::format("is a JSON {}, not {}", v.type_name(), expected),
                      describe_values(s));
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The keys of section `name` ("global" -> "global.loss, global.iterations, ..."), "" when no
// key has that prefix.
std::string section_keys(const std::string& name) {
  std::string keys;
  int n = 0;
  for (const auto& s : config_schema())
    if (s.key.compare(0, name.size() + 1, name + ".") == 0 && n++ < 3) keys += (keys.empty() ? "" : ", ") + s.key;
  return n > 3 ? keys + ", ..." : keys;
}
std::string section_first_key(const std::string& name) {
  for (const auto& s : config_schema())
    if (s.key.compare(0, name.size() + 1, name + ".") == 0) return s.key.substr(name.size() + 1);
  return "";
}

// Nested objects become dotted keys ({"global": {"tau": 0.1}} is global.tau). A config is
// shallow: deeper nesting than any key has, an array where a value belongs, and a key
// given twice (dotted and nested) are errors, found before any value is used.
void flatten(const nlohmann::json& j, const std::string& prefix, int depth, const std::string& origin,
             std::map<std::string, const nlohmann::json*>& out) {
  constexpr int kMaxDepth = 4;
  if (depth > kMaxDepth) throw std::invalid_argument(origin + ": " + prefix + ": nested deeper than any config key");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      flatten(*it, key, depth + 1, origin, out);
      continue;
    }
    if (it->is_array())  // never dumped: it may be nested without bound
      throw std::invalid_argument(fmt::format("{}: {} is a JSON {}; a config value is a string, number or boolean",
                                              origin, shown(key), it->type_name()));
    if (const std::string keys = section_keys(key); !keys.empty())
      throw std::invalid_argument(fmt::format(
          "{}: {} is a section of keys ({}), so it takes a JSON object, not the {} {}; e.g. \"{}\": {{\"{}\": ...}}",
          origin, key, keys, it->type_name(), shown(it->dump()), key, section_first_key(key)));
    if (!out.emplace(key, &*it).second) throw std::invalid_argument(origin + ": " + shown(key) + " is given twice");
  }
}

// Whether decoder block `blocks` of a `size`-pixel input leaves room for local regions of side
// `region`: the block works on maps of size / 2^(5 - blocks) pixels.
bool local_regions_fit(int size, int blocks, int region) {
  try {
    region_grid(size >> (kDecoderBlocks - blocks), region);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

bool has_class_weights(int classes) {
  try {
    default_class_weights(classes);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

}  // namespace

int default_restoration_patch(int image_side) {
  return std::max(1, static_cast<int>(std::lround(image_side / 12.0)));
}

int pretext_mask_pixels(double fraction, int image_side) {
  return std::max(1, static_cast<int>(std::lround(fraction * image_side)));
}

void Config::set(const std::string& key, const std::string& value, const std::string& origin) {
  const KeySpec* s = nullptr;
  try {
    s = &spec(key);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(origin + ": unknown config key '" + shown(key) + "' (contraseg config lists the keys)");
  }
  values_[key] = check_value(*s, value, origin);
  origins_[key] = origin;
}

void Config::validate() const {
  const DatasetGeometry dataset = dataset_geometry(str("dataset"));
  const int size = integer("image_size") ? integer("image_size") : dataset.image_size;
  const int classes = integer("num_classes") ? integer("num_classes") : dataset.num_classes;

  const int blocks = integer("local.blocks"), region = integer("local.region");
  // reproduce.rows (experiments/table_rows.h): its grammar here; the decoder depths and pretext
  // tasks of its rows are checked below with local.blocks' and pretext.task's.
  const TablePlan table = this->table();
  std::set<int> depths = {blocks};
  std::set<std::string> tasks = {str("pretext.task")};
  for (const auto& run : table.pretrain) {
    if (run.kind == PretrainKind::Local) depths.insert(run.blocks);
    if (run.kind == PretrainKind::Pretext) tasks.insert(run.method);
  }
  // Which key set a value of a row's: its own, or reproduce.rows for the rows' values.
  const auto from = [&](bool own, const std::string& key) { return own ? key : std::string("reproduce.rows"); };

  for (const int depth : depths) {
    if (local_regions_fit(size, depth, region)) continue;
    int lowest = depth + 1;
    while (lowest < kDecoderBlocks && !local_regions_fit(size, lowest, region)) ++lowest;
    const int side = size >> (kDecoderBlocks - depth);
    const std::string key = from(depth == blocks, "local.blocks");
    throw value_error(origins_.at(key), key, str(key),
                      fmt::format("gives {0}x{0} feature maps{3} for {1}x{1} inputs, too small for {2}x{2} local "
                                  "regions (local.region)",
                                  side, size, region, depth == blocks ? "" : fmt::format(" at l = {}", depth)),
                      fmt::format("{} in [{}, {}] for this image size, or local.region 1",
                                  depth == blocks ? "local.blocks" : "rows with @lN, N", lowest, kDecoderBlocks));
  }

  // The pretext tasks' batch and corruption against the image size (docs/method.md §8).
  const std::string task = str("pretext.task");
  const auto task_note = [&](const std::string& t) {
    return t == task ? std::string() : fmt::format(" (for the {} row of reproduce.rows)", t);
  };
  if (tasks.count("rotation") && integer("pretext.batch") % kRotationTurns != 0) {
    const int batch = integer("pretext.batch"), up = (batch + kRotationTurns - 1) / kRotationTurns * kRotationTurns;
    throw value_error(origins_.at("pretext.batch"), "pretext.batch", str("pretext.batch"),
                      fmt::format("is not a multiple of {0}{1}: rotation shows each slice in its {0} turns in the "
                                  "same batch",
                                  kRotationTurns, task_note("rotation")),
                      fmt::format("a multiple of {} (e.g. pretext.batch={})", kRotationTurns, std::max(up, 4)));
  }
  if (tasks.count("restoration")) {
    const int patch = integer("pretext.patch") ? integer("pretext.patch") : default_restoration_patch(size);
    const int swaps = integer("pretext.swaps");
    if (patch > size / 4)
      throw value_error(origins_.at("pretext.patch"), "pretext.patch", str("pretext.patch"),
                        fmt::format("gives {0}x{0} patches{2}, more than a quarter of the side of a {1}x{1} slice",
                                    patch, size, task_note("restoration")),
                        fmt::format("pretext.patch in [1, {}] for this image size (0: {})", size / 4,
                                    default_restoration_patch(size)));
    // The 2 x swaps patches are disjoint (docs/method.md §8.2): they may cover a quarter of the slice.
    const int most = size * size / 4 / (2 * patch * patch);
    if (swaps > most)
      throw value_error(origins_.at("pretext.swaps"), "pretext.swaps", str("pretext.swaps"),
                        fmt::format("swaps 2 x {0} disjoint {1}x{1} patches{3}, more than a quarter of a {2}x{2} "
                                    "slice",
                                    swaps, patch, size, task_note("restoration")),
                        fmt::format("pretext.swaps in [1, {}] with {}x{} patches (pretext.patch), or smaller patches",
                                    std::max(most, 1), patch, patch));
  }

  if (str("finetune.loss") == "wce" && !has_class_weights(classes)) {
    std::vector<std::string> weighted;
    for (int c = 1; c <= kMaxClasses; ++c)
      if (has_class_weights(c)) weighted.push_back(std::to_string(c));
    throw value_error(origins_.at("finetune.loss"), "finetune.loss", "wce",
                      fmt::format("has no class weights for {} classes (num_classes, or the dataset's)", classes),
                      "dice|dice_fg, or wce with " + join(weighted, "|") + " classes");
  }
}

void Config::apply_override(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--set expects key=value, got '" + kv + "'");
  set(kv.substr(0, eq), kv.substr(eq + 1));
}

void Config::load_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error(path + ": cannot open config file: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw std::runtime_error(path + ": is a directory, not a config file");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw std::runtime_error(path + ": cannot open config file: " + std::strerror(errno));
  std::string text;
  char buf[4096];
  while (const size_t n = std::fread(buf, 1, sizeof buf, f.get())) text.append(buf, n);
  if (std::ferror(f.get())) throw std::runtime_error(path + ": cannot read config file: " + std::strerror(errno));
  nlohmann::json j;
  std::string repeated;  // a key given twice in one object: JSON keeps the last, silently
  std::vector<std::set<std::string>> open_objects;
  auto note_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) open_objects.emplace_back();
    if (event == E::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == E::key && !open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
        repeated.empty())
      repeated = parsed.get<std::string>();
    return true;
  };
  try {
    j = nlohmann::json::parse(text, note_keys);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": malformed JSON: " + e.what());
  }
  if (!repeated.empty())
    throw std::runtime_error(path + ": key \"" + shown(repeated) +
                             "\" is given twice in one object; keep one (JSON would silently use the last)");
  load_json(j, path);
}

void Config::load_json(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) throw std::runtime_error(path + ": a config must be a JSON object");
  std::map<std::string, const nlohmann::json*> flat;
  flatten(j, "", 1, path, flat);
  for (const auto& [key, value] : flat) {
    const nlohmann::json& v = *value;
    if (key == "description") continue;  // free text for people
    try {
      spec(key);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(path + ": unknown config key '" + shown(key) + "' (contraseg config lists the keys)");
    }
    set(key, json_value_text(spec(key), v, path), path);
  }
}

std::string Config::str(const std::string& key) const {
  spec(key);
  return values_.at(key);
}
int Config::integer(const std::string& key) const {
  if (spec(key).type != KeyType::Int) throw std::logic_error(key + " is not an integer key");
  return std::stoi(values_.at(key));
}
double Config::real(const std::string& key) const {
  if (spec(key).type != KeyType::Float) throw std::logic_error(key + " is not a number key");
  return std::stod(values_.at(key));
}
bool Config::boolean(const std::string& key) const {
  if (spec(key).type != KeyType::Bool) throw std::logic_error(key + " is not a boolean key");
  return values_.at(key) == "true";
}

std::vector<std::string> Config::list(const std::string& key) const {
  if (!spec(key).list) throw std::logic_error(key + " is not a list key");
  return split_list(values_.at(key));
}

TablePlan plan_rows(const std::vector<std::string>& items, int blocks) {
  return plan_table(items, {config_choices("global.loss"), config_choices("local.loss"), config_choices("pretext.task")},
                    blocks, kDecoderBlocks);
}

TablePlan Config::table() const {
  try {
    return plan_rows(split_list(str("reproduce.rows")), integer("local.blocks"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(origins_.at("reproduce.rows") + ": " + e.what());
  }
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

Config Config::with_absolute_paths() const {
  Config c = *this;
  for (const auto& s : config_schema())
    if (s.type == KeyType::Path) c.values_[s.key] = absolute_path(values_.at(s.key));
  return c;
}

nlohmann::json Config::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& s : config_schema()) {
    nlohmann::json* node = &j;
    std::string key = s.key;
    for (size_t dot; (dot = key.find('.')) != std::string::npos; key = key.substr(dot + 1))
      node = &(*node)[key.substr(0, dot)];
    const std::string& v = values_.at(s.key);
    switch (s.type) {
      case KeyType::Int: (*node)[key] = std::stoll(v); break;
      case KeyType::Float: (*node)[key] = std::stod(v); break;
      case KeyType::Bool: (*node)[key] = v == "true"; break;
      case KeyType::String:
      case KeyType::Path: (*node)[key] = v; break;
    }
  }
  return j;
}

std::string Config::to_text() const {
  std::ostringstream o;
  for (const auto& s : config_schema()) o << "  " << s.key << " = " << values_.at(s.key) << "\n";
  return o.str();
}

void Config::save(const std::string& path) const { write_file_atomic(path, to_json().dump(2) + "\n"); }

}  // namespace cs
