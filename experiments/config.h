#pragma once
// Configuration: a flat set of typed keys ("finetune.iterations") with defaults and a one-line
// description each. A run resolves, in order: the defaults, a JSON config file (nested objects
// flatten to dotted keys), then `--set key=value` overrides. Unknown keys, values of the wrong
// type or outside their range, and values that do not work together (validate) are errors that
// name the key, the value, where it came from and what is allowed, raised before any work starts.
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/table_rows.h"

namespace cs {

// The value of reproduce.combs that stands for every combination the split defines for each
// labelled set (the released protocol: tr1 c1-c5, tr2 c1-c5, tr8 c1-c3).
inline constexpr char kAllCombinations[] = "all";

// Path: a file or folder; a run folder records it absolute (Config::with_absolute_paths).
enum class KeyType { String, Path, Int, Float, Bool };

// The values a numeric key allows: [min, max], or (min, max] when min_open; besides them 0 when
// or_zero (0 = "the dataset's"); for integers only multiples of multiple_of. An integer key is
// also bounded by the int range whatever its max.
struct NumericRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool or_zero = false;
  int multiple_of = 1;
};

struct KeySpec {
  std::string key;
  KeyType type;
  std::string default_value;
  std::string help;
  // The allowed values of an enumerated String or Int key (of each item of a list key); empty =
  // any text, or any number in range.
  std::vector<std::string> choices;
  NumericRange range = {};  // Int and Float keys
  bool list = false;        // a String key holding a comma-separated list of choices
};

const std::vector<KeySpec>& config_schema();
// The allowed values of an enumerated key (empty for the others); throws on an unknown key.
const std::vector<std::string>& config_choices(const std::string& key);
// What a key takes, for people: "acdc|prostate|mmwhs", "integer >= 1", "number in (0, 1]",
// "0 or a multiple of 32 in [32, 1024]", "1|3", "comma-separated list of c1|c2", "true|false",
// "path", "text".
std::string describe_values(const KeySpec& spec);

// The sizes of the pretext tasks' corruptions in pixels, for an image side (docs/method.md §8): the
// default side of context restoration's swapped patches, pretext.patch = 0 (side / 12, rounded, at
// least 1: 16 pixels at 192), and the side of inpainting's masked square for pretext.mask_side
// (fraction x side, rounded, at least 1).
int default_restoration_patch(int image_side);
int pretext_mask_pixels(double fraction, int image_side);

// The rows named by `items` (reproduce.rows' grammar, experiments/table_rows.h), planned with the
// schema's methods and `blocks` as the l of local rows without @l. Throws as plan_table.
TablePlan plan_rows(const std::vector<std::string>& items, int blocks);

// The non-empty items of a comma-separated list ("tr1,tr2" -> {"tr1", "tr2"}).
std::vector<std::string> split_list(const std::string& s);

class Config {
 public:
  Config();  // every key at its default

  void load_file(const std::string& path);               // JSON
  void load_json(const nlohmann::json& j, const std::string& origin);  // origin names it in errors
  void set(const std::string& key, const std::string& value, const std::string& origin = "--set");
  void apply_override(const std::string& key_eq_value);  // "key=value"
  // The checks between keys, once every source is applied: values each allowed on their own
  // that do not work together (a 3x3 local region on a too small feature map, ...).
  void validate() const;

  std::string str(const std::string& key) const;
  int integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::vector<std::string> list(const std::string& key) const;  // a list key's items
  // The rows of reproduce.rows planned (experiments/table_rows.h); throws naming the key and its origin.
  TablePlan table() const;

  // A copy with every path key absolute against the working directory, so that what a run
  // folder records works from any directory.
  Config with_absolute_paths() const;

  nlohmann::json to_json() const;  // nested, typed
  std::string to_text() const;     // "key = value" lines, for printing
  void save(const std::string& path) const;  // atomic

 private:
  const KeySpec& spec(const std::string& key) const;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> origins_;  // where each value came from, for validate's errors
};

}  // namespace cs
