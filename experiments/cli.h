#pragma once
// The `contraseg` command: subcommands register themselves with CS_COMMAND, and share a small
// argument parser (--key value, --key=value, flags, positionals; unknown options are errors).
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cs {

using CommandFn = int (*)(int argc, char** argv);  // argv[0] is the subcommand name

struct CommandInfo {
  std::string name, summary;
  CommandFn run;
};
std::vector<CommandInfo>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(const char* name, const char* summary, CommandFn fn) {
    command_registry().push_back({name, summary, fn});
  }
};
#define CS_COMMAND(NAME, SUMMARY, FN) \
  static ::cs::CommandRegistrar cs_command_##FN(NAME, SUMMARY, FN)

// Parses the options of one subcommand. `options` take a value, `flags` do not.
// Throws std::invalid_argument naming the option on anything unknown or malformed.
// True if the path exists (file or folder).
bool path_exists(const std::string& path);
// "contraseg <subcommand> <args...>", as recorded in a run folder's env.json.
std::string command_line(int argc, char** argv);

class Args {
 public:
  Args(int argc, char** argv, const std::set<std::string>& options,
       const std::set<std::string>& flags = {}, const std::set<std::string>& repeatable = {});

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  bool flag(const std::string& key) const { return flags_set_.count(key) > 0; }
  std::string get(const std::string& key, const std::string& def) const;
  std::string require(const std::string& key) const;
  int get_int(const std::string& key, int def) const;
  double get_double(const std::string& key, double def) const;
  std::vector<std::string> all(const std::string& key) const;  // repeatable options
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_set_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace cs
