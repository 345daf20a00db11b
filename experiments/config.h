#pragma once
// Configuration: a flat set of typed keys ("finetune.iterations") with defaults and a one-line
// description each. A run resolves, in order: the defaults, a JSON config file (nested objects
// flatten to dotted keys), then `--set key=value` overrides. Unknown keys and values of the wrong
// type are errors that name the key (and the file), raised before any work starts.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cs {

// Path: a file or folder; a run folder records it absolute (Config::with_absolute_paths).
enum class KeyType { String, Path, Int, Float, Bool };

struct KeySpec {
  std::string key;
  KeyType type;
  std::string default_value;
  std::string help;
  std::vector<std::string> choices;  // for strings; empty = free text
};

const std::vector<KeySpec>& config_schema();
// The allowed values of an enumerated key (empty for the others); throws on an unknown key.
const std::vector<std::string>& config_choices(const std::string& key);
// What a key takes, for people: "acdc|prostate|mmwhs", "integer", "number", "true|false", "path", "text".
std::string describe_values(const KeySpec& spec);

class Config {
 public:
  Config();  // every key at its default

  void load_file(const std::string& path);               // JSON
  void load_json(const nlohmann::json& j, const std::string& origin);  // origin names it in errors
  void set(const std::string& key, const std::string& value, const std::string& origin = "--set");
  void apply_override(const std::string& key_eq_value);  // "key=value"

  std::string str(const std::string& key) const;
  int integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;

  // A copy with every path key absolute against the working directory, so that what a run
  // folder records works from any directory.
  Config with_absolute_paths() const;

  nlohmann::json to_json() const;  // nested, typed
  std::string to_text() const;     // "key = value" lines, for printing
  void save(const std::string& path) const;  // atomic

 private:
  const KeySpec& spec(const std::string& key) const;
  std::map<std::string, std::string> values_;
};

}  // namespace cs
