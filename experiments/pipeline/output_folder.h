#pragma once
// A folder a command writes whole: synth's dataset, preprocess's volumes, evaluate's eval/. It is
// filled beside its target ("<target>.partial-PID") and put in place when complete, so that a
// killed command never leaves half of one, and a replaced one leaves none of its old files.
#include <filesystem>
#include <functional>
#include <string>

namespace cs {

class OutputFolder {
 public:
  // The first entry of an existing folder that the command does not write itself ("" when all
  // are its own): --overwrite replaces only what the command wrote.
  using ForeignEntry = std::function<std::string(const std::filesystem::path& dir)>;

  // Checks `out` (the command's --out) before anything is written, naming it and the fix: a new or empty folder, or,
  // with `overwrite`, one whose entries `foreign` accepts and that is not the root, the home
  // directory, the working directory or a folder above it. Then creates the partial folder.
  // `command` names the command in messages ("synth").
  OutputFolder(const std::string& out, bool overwrite, const std::string& command, const ForeignEntry& foreign);
  ~OutputFolder();  // an unpublished partial folder is removed
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  const std::string& partial() const { return partial_; }  // write here
  bool replaces() const { return replace_; }                 // an old folder is replaced
  // Puts the partial folder in place of `out`: renamed when `out` did not exist, its entries
  // moved into an empty `out` (which may be a mount point), or swapped with the old folder in one
  // step (two renames where the file system cannot swap), which is then removed.
  void publish();

 private:
  std::filesystem::path target_;
  std::string partial_;
  bool replace_ = false, published_ = false;
};

// The first few entries of a folder, for a message ("patient001, splits.json, ...").
std::string some_entries(const std::filesystem::path& dir);

}  // namespace cs
