#include "experiments/pipeline/output_folder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "io/paths.h"

namespace cs {
namespace fs = std::filesystem;
namespace {

// `out` made absolute, without a trailing slash: the folder that is replaced (a link to a folder
// is replaced as the link, not the folder it points to).
fs::path target_of(const std::string& out) {
  fs::path p(absolute_path(out));
  if (!p.has_filename()) p = p.parent_path();
  return p;
}

// Folders no command replaces, whatever they hold.
void refuse_protected_folder(const std::string& out, const fs::path& target, const std::string& command) {
  const fs::path cwd = fs::path(absolute_path("."));
  const char* home = std::getenv("HOME");
  std::string what;
  if (target == target.root_path())
    what = "the root folder";
  else if (home && *home && target == fs::path(absolute_path(home)))
    what = "the home directory";
  else if (target == cwd)
    what = "the current directory";
  else if (const fs::path up = cwd.lexically_relative(target); !up.empty() && *up.begin() != "..")
    what = "a folder above the current directory";
  if (!what.empty())
    throw std::invalid_argument(fmt::format("{}: is {}; {} --overwrite replaces its --out folder whole, so it never "
                                            "takes this one: choose a new folder for --out",
                                            out, what, command));
}

// What killed commands left beside `target` ("<name>.partial-PID", "<name>.old-PID" of a process
// that is gone).
void remove_stale_siblings(const fs::path& target) {
  static const std::regex ours("\\.(partial|old)-([0-9]+)");
  std::error_code ec;
  const std::string name = target.filename().string();
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string n = e.path().filename().string();
    std::smatch m;
    if (n.compare(0, name.size(), name) != 0) continue;
    const std::string rest = n.substr(name.size());
    if (!std::regex_match(rest, m, ours)) continue;
    const long pid = std::stol(m[2].str());
    if (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

}  // namespace

std::string some_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(3, names.size()); ++i) s += (i ? ", " : "") + names[i];
  return names.size() > 3 ? s + ", ... (" + std::to_string(names.size()) + " entries)" : s;
}

OutputFolder::OutputFolder(const std::string& out, bool overwrite, const std::string& command,
                           const ForeignEntry& foreign)
    : target_(target_of(out)) {
  std::error_code ec;
  const auto st = fs::symlink_status(target_, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st))
      throw std::invalid_argument(out + ": exists and is not a folder; choose another output folder");
    if (!fs::is_empty(target_)) {
      if (!overwrite)
        throw std::invalid_argument(fmt::format("{}: not empty (it holds {}); {} writes a whole folder: choose a new or "
                                                "empty --out, or add --overwrite to replace this one",
                                                out, some_entries(target_), command));
      refuse_protected_folder(out, target_, command);
      const std::string other = foreign ? foreign(target_) : "";
      if (!other.empty())
        throw std::invalid_argument(fmt::format("{}: --overwrite replaces only a folder that {} wrote, and {} is not "
                                                "its; remove the folder yourself if it is to go, or choose another --out",
                                                out, command, other));
      replace_ = true;
    }
  }
  fs::create_directories(target_.parent_path(), ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create its folder: {}", out, ec.message()));
  remove_stale_siblings(target_);
  partial_ = target_.string() + ".partial-" + std::to_string(::getpid());
  fs::remove_all(partial_, ec);
  if (!fs::create_directory(partial_, ec) || ec)
    throw std::runtime_error(
        fmt::format("{}: cannot create {} to write into: {}", out, partial_, ec ? ec.message() : "it exists"));
}

OutputFolder::~OutputFolder() {
  std::error_code ec;
  if (!published_) fs::remove_all(partial_, ec);
}

void OutputFolder::publish() {
  const fs::path partial(partial_);
  if (!fs::exists(fs::symlink_status(target_))) {
    fs::rename(partial, target_);
  } else if (!replace_) {  // empty: receives the entries
    for (const auto& e : fs::directory_iterator(partial)) fs::rename(e.path(), target_ / e.path().filename());
    fs::remove(partial);
  } else if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(partial);  // holds the old folder now
  } else {
    const fs::path old = target_.string() + ".old-" + std::to_string(::getpid());
    fs::rename(target_, old);
    try {
      fs::rename(partial, target_);
    } catch (...) {
      fs::rename(old, target_);  // the old folder stays where it was
      throw;
    }
    fs::remove_all(old);
  }
  published_ = true;
}

}  // namespace cs
