#include "experiments/cli.h"

#include <sys/stat.h>

#include <stdexcept>

namespace cs {

std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> r;
  return r;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string command_line(int argc, char** argv) {
  std::string s = "contraseg";
  for (int i = 0; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

Args::Args(int argc, char** argv, const std::set<std::string>& options,
           const std::set<std::string>& flags, const std::set<std::string>& repeatable) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      positional_.push_back(a);
      continue;
    }
    std::string key = a.substr(2), value;
    bool has_value = false;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
      has_value = true;
    }
    if (flags.count(key)) {
      if (has_value) throw std::invalid_argument("option --" + key + " takes no value");
      flags_set_.insert(key);
      continue;
    }
    if (!options.count(key) && !repeatable.count(key))
      throw std::invalid_argument("unknown option --" + key + " (see --help)");
    if (!has_value) {
      if (i + 1 >= argc) throw std::invalid_argument("option --" + key + " needs a value");
      value = argv[++i];
    }
    if (values_.count(key) && !repeatable.count(key))
      throw std::invalid_argument("option --" + key + " given twice");
    values_[key].push_back(value);
  }
}

std::string Args::get(const std::string& key, const std::string& def) const {
  auto it = values_.find(key);
  return it == values_.end() ? def : it->second.back();
}

std::string Args::require(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::invalid_argument("missing required option --" + key);
  return it->second.back();
}

int Args::get_int(const std::string& key, int def) const {
  if (!has(key)) return def;
  const std::string v = get(key, "");
  size_t pos = 0;
  int r = 0;
  try {
    r = std::stoi(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos != v.size() || v.empty())
    throw std::invalid_argument("option --" + key + ": '" + v + "' is not an integer");
  return r;
}

double Args::get_double(const std::string& key, double def) const {
  if (!has(key)) return def;
  const std::string v = get(key, "");
  size_t pos = 0;
  double r = 0;
  try {
    r = std::stod(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos != v.size() || v.empty())
    throw std::invalid_argument("option --" + key + ": '" + v + "' is not a number");
  return r;
}

std::vector<std::string> Args::all(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace cs
