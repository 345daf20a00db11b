#pragma once
// A run folder: everything one stage produces, in one place.
//   run.lock      held by the one process that writes the folder (experiments/pipeline/folder_lock.h)
//   config.json   the resolved configuration, its paths (data, splits) absolute, plus "stage",
//                 "init" (the absolute run folder it starts from, "" for none) and "config_hash"
//   env.json      version, compiler, CUDA/cuDNN, device, threads, seed, command line, working
//                 directory, and the absolute init run folder (if any)
//   log.txt       one fixed-format line per logged step:
//                 "step 120 loss 0.412331 ms/step 812.4 images/s 24.6"
//   checkpoints/  latest (+ previous), best, final .safetensors, each with the config hash
// On a terminal a progress line with the ETA is redrawn in place.
//
// The config hash binds a folder's weights to the settings that made them: it covers the keys
// that can change a stage's weights (weight_keys), the stage and the init run. A resumed run must
// match it; keys outside it (log and checkpoint cadence, threads, other stages' keys) may change.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "experiments/pipeline/config.h"
#include "experiments/pipeline/folder_lock.h"

namespace cs {

// What a stage does with a folder that already holds a run.
enum class Existing {
  Refuse,     // an error that says to add --resume or --overwrite
  Resume,     // continue it (the config must match); a finished run is left as it is
  Overwrite,  // discard its files and start again
};

// The keys that can change the weights of `stage` (pretrain-global, pretrain-local, finetune).
std::vector<std::string> weight_keys(const std::string& stage);
// 16 hex digits (FNV-1a 64) over the weight keys' values, the stage and the init folder.
std::string config_hash(const Config& cfg, const std::string& stage, const std::string& init);

// A run folder's config.json, as written by RunFolder.
struct StoredRun {
  std::string stage, init, config_hash;
  Config config;
};
StoredRun read_stored_run(const std::string& dir);  // throws naming the folder or file

// The path of checkpoint `which` (latest | previous | best | final) of the run folder `dir`.
std::string checkpoint_path(const std::string& dir, const std::string& which);
// The same, where it must exist: "best" falls back to final when the run never validated.
// Throws naming the run when it is missing.
std::string run_checkpoint(const std::string& dir, const std::string& which);

// Reads a run folder's config.json into a Config and checks its stage (returned in stage_out) and
// that its checkpoint `checkpoint` exists; throws a clear error otherwise.
Config load_run_config(const std::string& dir, const std::vector<std::string>& expected_stages,
                       const std::string& checkpoint = "final", std::string* stage_out = nullptr);
// An init run must have been trained on the same dataset, image size and resolution.
void check_init_matches(const Config& init, const Config& cfg, const std::string& init_dir);

class RunFolder {
 public:
  // Takes the folder's lock, then: an empty folder gets config.json, env.json and log.txt; a
  // folder holding a run is refused, resumed (log.txt appended to) or overwritten as `existing`
  // says. A resumed config that differs in a weight key is refused, listing each key with its
  // old and new value. init: the run folder this one starts from ("" = none).
  RunFolder(const std::string& dir, const Config& config, const std::string& stage,
            const std::string& command_line, Existing existing, const std::string& init = "");
  ~RunFolder();

  // Resuming a run that has its final checkpoint: there is nothing to train, and nothing in the
  // folder was changed.
  bool finished() const { return finished_; }
  // Continuing a run that was in the folder (not finished): training resumes from a checkpoint.
  bool resuming() const { return resuming_; }
  const std::string& config_hash() const { return hash_; }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string checkpoint(const std::string& which) const { return checkpoint_path(dir_, which); }

  // Into log.txt, and onto stdout unless echo is false.
  void log_step(int step, double loss, double ms_per_step, double images_per_s, bool echo = true);
  void log_line(const std::string& line, bool echo = true);
  void progress(int step, int total, double loss, double ms_per_step);
  void end_progress();

 private:
  void check_resumable(const Config& config, const std::string& stage, const std::string& init) const;
  FolderLock lock_;
  std::string dir_, hash_;
  bool finished_ = false, resuming_ = false;
  std::FILE* log_ = nullptr;
  bool progress_open_ = false;
};

std::string environment_json(const Config& config, const std::string& command_line, const std::string& init = "");
void make_dirs(const std::string& path);  // mkdir -p; throws naming the path

}  // namespace cs
