#pragma once
// The `contraseg` command: subcommands register themselves with CS_COMMAND, each with one table
// of its options (CommandSpec). The parser (Args) accepts exactly the options of that table and
// the help text is printed from it, so an option cannot be accepted without being documented.
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "experiments/config.h"
#include "io/paths.h"

namespace cs {

// One option: its name without "--", the metavariable of its value (empty for a flag), the
// values it accepts (empty: any), whether it may be given several times, and one line of help.
struct OptionSpec {
  std::string name, value, help;
  std::vector<std::string> choices;
  bool repeatable = false;
};
OptionSpec option(const std::string& name, const std::string& value, const std::string& help);
OptionSpec flag(const std::string& name, const std::string& help);
OptionSpec repeatable(const std::string& name, const std::string& value, const std::string& help);
OptionSpec choice(const std::string& name, const std::vector<std::string>& choices, const std::string& help);

// The options that resolve_config reads (--config, --set, --data, --device), with the help most
// commands give them; a command whose option means something narrower passes its own help.
OptionSpec config_option(const std::string& help = "JSON config (experiments/configs/*.json); defaults otherwise");
OptionSpec set_option(const std::string& help = "override one config key; `contraseg config` lists the keys");
OptionSpec data_option(const std::string& help = "dataset root (same as --set data=DIR)");
OptionSpec device_option(const std::string& help = "same as --set device=...");
// --dataset acdc|prostate|mmwhs, for the commands that name a dataset rather than a config.
OptionSpec dataset_option(const std::string& help);
// --verbose of the commands that run several stages (per-step lines on the terminal).
OptionSpec verbose_option();
// --table NAME|ROWS: the rows of a results table (same as --set reproduce.rows=...).
OptionSpec table_option();

// What a command accepts and how it is described.
struct CommandSpec {
  std::string name, summary;
  std::string usage;        // "contraseg synth --out DIR [options]"
  std::string description;  // a paragraph, lines ending in "\n"
  std::vector<OptionSpec> options;
  std::string positional = {};  // metavariable of positional arguments ("FILE..."); empty: none taken
};
// "usage: ...", the description, then one line per option (and -h/--help).
std::string help_text(const CommandSpec& spec);

class Args;
using CommandFn = int (*)(const Args& args);

struct CommandInfo {
  CommandSpec spec;
  CommandFn run;
};
std::vector<CommandInfo>& command_registry();
const CommandInfo* find_command(const std::string& name);  // nullptr if unknown

struct CommandRegistrar {
  CommandRegistrar(CommandSpec spec, CommandFn fn) { command_registry().push_back({std::move(spec), fn}); }
};
// COMMAND: an expression giving the CommandSpec; FN: int FN(const Args&).
#define CS_COMMAND(COMMAND, FN) static ::cs::CommandRegistrar cs_command_##FN(COMMAND, FN)

// A command line that does not fit the command's table (exit status 2, not 1).
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// "contraseg <subcommand> <args...>", as recorded in a run folder's env.json.
std::string command_line(int argc, char** argv);

// Parses one subcommand's arguments (argv[0] is its name) against its table: --key value,
// --key=value, flags, positionals where the table takes them. Throws UsageError naming the
// option on anything unknown, malformed, repeated or outside its choices.
class Args {
 public:
  Args(int argc, char** argv, const CommandSpec& spec);

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  bool flag(const std::string& key) const { return flags_set_.count(key) > 0; }
  std::string get(const std::string& key, const std::string& def) const;
  std::string require(const std::string& key) const;
  int get_int(const std::string& key, int def) const;
  double get_double(const std::string& key, double def) const;
  uint64_t get_u64(const std::string& key, uint64_t def) const;  // non-negative integers (seeds)
  // A range "LO:HI" with LO <= HI (one number X means X:X); {lo, hi} when the option is absent.
  std::pair<double, double> get_range(const std::string& key, double lo, double hi) const;
  std::pair<int, int> get_int_range(const std::string& key, int lo, int hi) const;
  std::vector<std::string> all(const std::string& key) const;  // repeatable options
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }
  const CommandSpec& spec() const { return *spec_; }
  const std::string& command_line() const { return command_line_; }

 private:
  const CommandSpec* spec_;
  std::string command_line_;
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_set_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// The config a command runs with: `start` (the defaults, a run's own config, the demo's), then
// the command's --config file, its --set overrides, and the shortcuts --data, --device, --labeled
// and --comb; every value is checked here, before the command does any work.
Config resolve_config(const Args& a, Config start = Config());

}  // namespace cs
