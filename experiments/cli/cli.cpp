#include "experiments/cli/cli.h"

#include <algorithm>

namespace cs {

std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> r;
  return r;
}

const CommandInfo* find_command(const std::string& name) {
  for (const auto& c : command_registry())
    if (c.spec.name == name) return &c;
  return nullptr;
}

OptionSpec option(const std::string& name, const std::string& value, const std::string& help) {
  return {name, value, help, {}, false};
}
OptionSpec flag(const std::string& name, const std::string& help) { return {name, "", help, {}, false}; }
OptionSpec repeatable(const std::string& name, const std::string& value, const std::string& help) {
  return {name, value, help, {}, true};
}
OptionSpec choice(const std::string& name, const std::vector<std::string>& choices, const std::string& help) {
  std::string value;
  for (const auto& c : choices) value += (value.empty() ? "" : "|") + c;
  return {name, value, help, choices, false};
}

OptionSpec config_option(const std::string& help) { return option("config", "FILE", help); }
OptionSpec set_option(const std::string& help) { return repeatable("set", "KEY=VALUE", help); }
OptionSpec data_option(const std::string& help) { return option("data", "DIR", help); }
OptionSpec device_option(const std::string& help) { return choice("device", config_choices("device"), help); }
OptionSpec dataset_option(const std::string& help) { return option("dataset", "acdc|prostate|mmwhs", help); }
OptionSpec verbose_option() {
  return flag("verbose", "per-step lines on the terminal (always in each run's log.txt)");
}

OptionSpec table_option() {
  return option("table", "NAME|ROWS",
                "the table's rows: paper-main, paper-ablation, paper-comparison, or a list such as random,gr,gd+lr "
                "(same as --set reproduce.rows=...)");
}

namespace {

const OptionSpec* find_option(const CommandSpec& spec, const std::string& name) {
  for (const auto& o : spec.options)
    if (o.name == name) return &o;
  return nullptr;
}

std::string option_label(const OptionSpec& o) { return "--" + o.name + (o.value.empty() ? "" : " " + o.value); }

}  // namespace

std::string help_text(const CommandSpec& spec) {
  std::string s = "usage: " + spec.usage + "\n\n" + spec.description;
  size_t width = std::string("-h, --help").size();
  for (const auto& o : spec.options) width = std::max(width, option_label(o).size());
  // Help wrapped at about 100 columns, continuation lines under the help column.
  auto line = [&](const std::string& label, const std::string& help) {
    std::string l = "  " + label + std::string(width + 2 - label.size(), ' ');
    const size_t indent = l.size();
    size_t col = indent;
    for (size_t i = 0; i < help.size();) {
      const size_t end = std::min(help.find(' ', i), help.size());
      const std::string word = help.substr(i, end - i);
      if (col > indent && col + 1 + word.size() > 100) {
        l += "\n" + std::string(indent, ' ');
        col = indent;
      } else if (col > indent) {
        l += ' ';
        ++col;
      }
      l += word;
      col += word.size();
      i = end + 1;
    }
    s += l + "\n";
  };
  s += "\noptions:\n";
  for (const auto& o : spec.options) line(option_label(o), o.help + (o.repeatable ? " (repeatable)" : ""));
  line("-h, --help", "this help");
  return s;
}

std::string command_line(int argc, char** argv) {
  std::string s = "contraseg";
  for (int i = 0; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

Args::Args(int argc, char** argv, const CommandSpec& spec)
    : spec_(&spec), command_line_(cs::command_line(argc, argv)) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      if (spec.positional.empty()) throw UsageError("unexpected argument '" + a + "' (see --help)");
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
    const OptionSpec* o = find_option(spec, key);
    if (!o) throw UsageError("unknown option --" + key + " (see --help)");
    if (o->value.empty()) {
      if (has_value) throw UsageError("option --" + key + " takes no value");
      flags_set_.insert(key);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError("option --" + key + " needs a value (" + o->value + ")");
      value = argv[++i];
    }
    if (values_.count(key) && !o->repeatable) throw UsageError("option --" + key + " given twice");
    if (!o->choices.empty() && std::find(o->choices.begin(), o->choices.end(), value) == o->choices.end())
      throw UsageError("option --" + key + ": '" + value + "' is not one of " + o->value);
    values_[key].push_back(value);
  }
}

std::string Args::get(const std::string& key, const std::string& def) const {
  auto it = values_.find(key);
  return it == values_.end() ? def : it->second.back();
}

std::string Args::require(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw UsageError("missing required option --" + key + " (see --help)");
  return it->second.back();
}

namespace {
// The whole of `v` as a number by `parse` (std::stoi, std::stod), else a UsageError.
template <typename T, typename Parse>
T parse_option(const std::string& key, const std::string& v, Parse parse, const char* what) {
  size_t pos = 0;
  T r{};
  try {
    r = parse(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos != v.size() || v.empty()) throw UsageError("option --" + key + ": '" + v + "' is not " + what);
  return r;
}
}  // namespace

int Args::get_int(const std::string& key, int def) const {
  if (!has(key)) return def;
  return parse_option<int>(key, get(key, ""), [](const std::string& v, size_t* p) { return std::stoi(v, p); },
                           "an integer");
}

double Args::get_double(const std::string& key, double def) const {
  if (!has(key)) return def;
  return parse_option<double>(key, get(key, ""), [](const std::string& v, size_t* p) { return std::stod(v, p); },
                              "a number");
}

uint64_t Args::get_u64(const std::string& key, uint64_t def) const {
  if (!has(key)) return def;
  const std::string v = get(key, "");
  const auto bad = UsageError("option --" + key + ": '" + v + "' is not a non-negative integer");
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) throw bad;
  try {
    return std::stoull(v);
  } catch (...) {
    throw bad;  // out of range
  }
}

namespace {
// The two halves of "LO:HI" (both X for "X"), parsed by `parse`; anything else, or LO > HI, is a
// UsageError naming the option and the whole value.
template <typename T, typename Parse>
std::pair<T, T> parse_range(const std::string& key, const std::string& v, Parse parse, const char* what) {
  const size_t colon = v.find(':');
  const std::string a = v.substr(0, colon), b = colon == std::string::npos ? a : v.substr(colon + 1);
  std::pair<T, T> r;
  try {
    if (b.find(':') != std::string::npos) throw UsageError("two colons");
    r = {parse_option<T>(key, a, parse, what), parse_option<T>(key, b, parse, what)};
  } catch (const UsageError&) {
    throw UsageError("option --" + key + ": '" + v + "' is not a range LO:HI of " + what);
  }
  if (r.first > r.second) throw UsageError("option --" + key + ": '" + v + "' has LO > HI");
  return r;
}
}  // namespace

std::pair<double, double> Args::get_range(const std::string& key, double lo, double hi) const {
  if (!has(key)) return {lo, hi};
  return parse_range<double>(key, get(key, ""), [](const std::string& v, size_t* p) { return std::stod(v, p); },
                             "numbers");
}

std::pair<int, int> Args::get_int_range(const std::string& key, int lo, int hi) const {
  if (!has(key)) return {lo, hi};
  return parse_range<int>(key, get(key, ""), [](const std::string& v, size_t* p) { return std::stoi(v, p); },
                          "integers");
}

std::vector<std::string> Args::all(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Config resolve_config(const Args& a, Config c) {
  if (a.has("config")) c.load_file(a.get("config", ""));
  for (const auto& kv : a.all("set")) c.apply_override(kv);
  const std::pair<const char*, const char*> shortcuts[] = {
      {"data", "data"}, {"device", "device"}, {"labeled", "finetune.labeled"}, {"comb", "finetune.comb"},
      {"table", "reproduce.rows"}};
  for (const auto& [option, key] : shortcuts)
    if (a.has(option)) c.set(key, a.get(option, ""), std::string("--") + option);
  c.validate();
  return c;
}

}  // namespace cs
