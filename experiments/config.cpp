#include "experiments/config.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <sstream>
#include <stdexcept>

#include "autograd/atomic_file.h"
#include "experiments/cli.h"

namespace cs {

const std::vector<KeySpec>& config_schema() {
  using K = KeyType;
  static const std::vector<KeySpec> schema = {
      {"dataset", K::String, "acdc", "dataset: sets image size, classes and resolution", {"acdc", "prostate", "mmwhs"}},
      {"data", K::Path, "", "dataset root directory (the dataset's own layout)", {}},
      {"splits", K::Path, "", "split file (default: DATA/splits.json, else the dataset's paper split; see contraseg split)", {}},
      {"layout", K::String, "auto", "directory layout (auto: the dataset's)", {"auto", "acdc", "msd", "mmwhs", "nnunet"}},
      {"compat", K::String, "paper", "paper: the method as described; reference: the released code's quirks", {"paper", "reference"}},
      {"device", K::String, "cpu", "where to train", {"cpu", "cuda"}},
      {"seed", K::Int, "0", "seed for sampling, augmentation and initialisation", {}},
      {"threads", K::Int, "0", "CPU threads (0 = all cores)", {}},
      {"image_size", K::Int, "0", "network input side in pixels (0 = the dataset's, SPEC 1.1)", {}},
      {"target_res", K::Float, "0", "in-plane resolution in mm (0 = the dataset's)", {}},
      {"num_classes", K::Int, "0", "classes incl. background (0 = the dataset's)", {}},
      {"lr", K::Float, "0.001", "Adam learning rate (all stages)", {}},
      {"log_every", K::Int, "10", "steps between log lines", {}},
      {"checkpoint_every", K::Int, "500", "steps between 'latest' checkpoints (for --resume)", {}},
      // stage 1
      {"global.loss", K::String, "gd", "global loss: gr (random), gd- or gd", {"gr", "gd-", "gd"}},
      {"global.iterations", K::Int, "10001", "stage-1 iterations", {}},
      {"global.tau", K::Float, "0.1", "temperature", {}},
      {"global.partitions", K::Int, "4", "partitions per volume (S)", {}},
      {"global.volumes", K::Int, "6", "volumes per batch in paper mode (V; batch = V x S x 2)", {}},
      {"global.batch", K::Int, "12", "bt_size: slices per view set (reference layout and G^R)", {}},
      // stage 2
      {"local.loss", K::String, "lr", "local loss: lr (random) or ld", {"lr", "ld"}},
      {"local.iterations", K::Int, "10001", "stage-2 iterations", {}},
      {"local.tau", K::Float, "0.1", "temperature", {}},
      {"local.blocks", K::Int, "3", "decoder blocks pre-trained (l)", {}},
      {"local.region", K::Int, "3", "local region side: 3 (3x3, flattened + dense) or 1", {}},
      {"local.batch", K::Int, "10", "slices per batch (two views each)", {}},
      // stage 3
      {"finetune.iterations", K::Int, "10001", "fine-tuning iterations", {}},
      {"finetune.batch", K::Int, "20", "fine-tuning batch", {}},
      {"finetune.loss", K::String, "dice", "dice (with background), dice_fg or wce", {"dice", "dice_fg", "wce"}},
      {"finetune.val_every", K::Int, "50", "iterations between validations (best checkpoint)", {}},
      {"finetune.labeled", K::String, "tr1", "labelled set", {"tr1", "tr2", "tr8", "trall"}},
      {"finetune.comb", K::String, "c1", "combination of the labelled set", {"c1", "c2", "c3", "c4", "c5"}},
      {"finetune.augment", K::Bool, "true", "affine + elastic augmentation", {}},
      // reproduce
      {"reproduce.labeled", K::String, "tr1,tr2,tr8", "labelled sets of the table", {}},
      {"reproduce.combs", K::String, "c1,c2,c3", "combinations averaged per cell", {}},
  };
  return schema;
}

const std::vector<std::string>& config_choices(const std::string& key) {
  for (const auto& s : config_schema())
    if (s.key == key) return s.choices;
  throw std::invalid_argument("unknown config key '" + key + "'");
}

std::string describe_values(const KeySpec& s) {
  switch (s.type) {
    case KeyType::String: {
      if (s.choices.empty()) return "text";
      std::string all;
      for (const auto& c : s.choices) all += (all.empty() ? "" : "|") + c;
      return all;
    }
    case KeyType::Path: return "path";
    case KeyType::Int: return "integer";
    case KeyType::Float: return "number";
    case KeyType::Bool: return "true|false";
  }
  return "";
}

Config::Config() {
  for (const auto& s : config_schema()) values_[s.key] = s.default_value;
}

const KeySpec& Config::spec(const std::string& key) const {
  for (const auto& s : config_schema())
    if (s.key == key) return s;
  throw std::invalid_argument("unknown config key '" + key + "'");
}

namespace {
std::string check_value(const KeySpec& s, const std::string& v, const std::string& origin) {
  auto bad = [&](const std::string& what) {
    return std::invalid_argument(origin + ": " + s.key + " = '" + v + "' " + what);
  };
  size_t pos = 0;
  switch (s.type) {
    case KeyType::Int: {
      long long x = 0;
      try {
        x = std::stoll(v, &pos);
      } catch (...) {
        pos = 0;
      }
      if (v.empty() || pos != v.size()) throw bad("is not an integer");
      if (x < 0) throw bad("must not be negative");
      return v;
    }
    case KeyType::Path: return v;
    case KeyType::Float: {
      double x = 0;
      try {
        x = std::stod(v, &pos);
      } catch (...) {
        pos = 0;
      }
      if (v.empty() || pos != v.size() || !std::isfinite(x)) throw bad("is not a finite number");
      return fmt::format("{}", x);  // canonical: "8", "8.0" and "8e0" compare equal afterwards
    }
    case KeyType::Bool:
      if (v == "true" || v == "1" || v == "yes") return "true";
      if (v == "false" || v == "0" || v == "no") return "false";
      throw bad("is not a boolean (true/false)");
    case KeyType::String:
      if (!s.choices.empty()) {
        for (const auto& c : s.choices)
          if (c == v) return v;
        std::string all;
        for (const auto& c : s.choices) all += (all.empty() ? "" : ", ") + c;
        throw bad("is not one of: " + all);
      }
      return v;
  }
  return v;
}

void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object())
      flatten(*it, key, out);
    else
      out[key] = *it;
  }
}
}  // namespace

void Config::set(const std::string& key, const std::string& value, const std::string& origin) {
  values_[key] = check_value(spec(key), value, origin);
}

void Config::apply_override(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--set expects key=value, got '" + kv + "'");
  set(kv.substr(0, eq), kv.substr(eq + 1));
}

void Config::load_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open config file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": malformed JSON: " + e.what());
  }
  load_json(j, path);
}

void Config::load_json(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) throw std::runtime_error(path + ": a config must be a JSON object");
  std::map<std::string, nlohmann::json> flat;
  flatten(j, "", flat);
  for (const auto& [key, v] : flat) {
    if (key == "description") continue;  // free text for people
    try {
      spec(key);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(path + ": unknown config key '" + key + "'");
    }
    std::string s;
    if (v.is_string())
      s = v.get<std::string>();
    else if (v.is_boolean())
      s = v.get<bool>() ? "true" : "false";
    else if (v.is_number_integer())
      s = std::to_string(v.get<long long>());
    else if (v.is_number())
      s = v.dump();
    else
      throw std::invalid_argument(path + ": " + key + " must be a string, number or boolean");
    set(key, s, path);
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
