#pragma once
// A run folder: everything one stage produces, in one place.
//   run.lock      held by the one process that writes the folder (experiments/pipeline/folder_lock.h)
//   config.json   the resolved configuration, its paths (data, splits) absolute, plus "stage",
//                 "init" (the run folder it starts from, "" for none) and "config_hash". Inside a
//                 reproduce folder (RunTree) the paths that lie in it (init runs, demo's data) are
//                 relative to the run folder, so that the reproduce folder can be moved or copied;
//                 read_stored_run resolves them.
//   env.json      version, compiler, CUDA/cuDNN, device, threads, seed, command line, working
//                 directory, and the absolute init run folder (if any)
//   log.txt       one fixed-format line per logged step:
//                 "step 120/600 loss 0.412331 ms/step 812.4 images/s 24.6 eta 6m46s"
//                 (step k of N; eta: the time left at the pace of this process so far)
//   checkpoints/  latest (+ previous), best, final .safetensors, each with the config hash
//   events.out.tfevents.*  TensorBoard: the logged scalars (training loss, learning rate, images/s,
//                 validation Dice, the probes) and the pictures, one file per process that trained
//                 the run (`tensorboard --logdir` over a reproduce folder shows every run)
// On a terminal a progress line with the ETA is redrawn in place.
//
// The config hash binds a folder's weights to the settings that made them: it covers the keys
// that can change a stage's weights (weight_keys), the stage and the init run. A resumed run must
// match it; keys outside it (log and checkpoint cadence, threads, other stages' keys) may change.
// The thread count and the CPU change how sums are rounded, not what is computed: a resume whose
// threads, CPU instruction set or device differ from env.json's goes on, with a warning that the
// run will not end with the weights of an uninterrupted one.
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "experiments/settings.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/preemption.h"
#include "io/formats/tfevents.h"

namespace cs {

// What a stage does with a folder that already holds a run.
enum class Existing {
  Refuse,         // an error that says to add --resume or --overwrite
  Resume,         // --resume: continue it (the config must match); a finished run is left as it
                  // is. A folder holding no run is an error (a misspelled folder, most likely).
  ResumeOrStart,  // as Resume, but a folder holding no run starts one (reproduce, demo)
  Overwrite,      // discard its files and start again
};

// While alive, the run folders created inside `root` (a reproduce folder) record the paths that
// lie inside it (their init runs, demo's data and split) relative to themselves, so that the
// whole folder can be moved or copied and still resumes. reproduce holds one for its whole run.
class RunTree {
 public:
  explicit RunTree(const std::string& root);
  ~RunTree();
  RunTree(const RunTree&) = delete;
  RunTree& operator=(const RunTree&) = delete;

 private:
  std::string previous_;
};

// 16 hex digits (FNV-1a 64) over the weight keys' values, the stage and the init folder, its paths
// absolute. (A run folder hashes its paths in the form config.json records them, see RunTree.)
std::string config_hash(const Settings& settings, Stage stage, const std::string& init);

// A run folder's config.json, as written by RunFolder.
struct StoredRun {
  std::string stage, init, config_hash;
  Config config;
};
// Its paths (data, splits, init) come back absolute: a relative one is read in the folder `dir`.
StoredRun read_stored_run(const std::string& dir);  // throws naming the folder or file

// The path of checkpoint `which` (latest | previous | best | final) of the run folder `dir`.
std::string checkpoint_path(const std::string& dir, const std::string& which);
// The same, where it must exist: "best" falls back to final when the run never validated.
// Throws naming the run when it is missing, and naming both hashes when the checkpoint's stage and
// config hash (its metadata) are not those of the folder's config.json (weights of another run).
std::string run_checkpoint(const std::string& dir, const std::string& which);

// Reads a run folder's config.json into Settings and checks its stage (returned in stage_out) and
// that its checkpoint `checkpoint` exists and was made by this run (as run_checkpoint); throws a
// clear error otherwise.
Settings load_run_settings(const std::string& dir, const std::vector<Stage>& expected_stages,
                           const std::string& checkpoint = "final", Stage* stage_out = nullptr);

class RunFolder {
 public:
  // Looks at the folder, creating nothing: when it exists its lock is taken; a run it holds is
  // refused or checked for resuming as `existing` says (a resumed config that differs in a weight
  // key is refused, listing each key with its old and new value). init: the run folder this one
  // starts from ("" = none). Then the stage checks its inputs, and only then calls start().
  // Existing::Resume on a folder that holds no run is an error, raised before anything is written.
  RunFolder(const std::string& dir, const Settings& settings, Stage stage, const std::string& command_line,
            Existing existing, const std::string& init = "");
  ~RunFolder();

  // Creates the folder (and takes its lock) when it did not exist, discards the run it holds
  // under Existing::Overwrite, and writes config.json, env.json and log.txt (appended to when
  // resuming). Nothing may be written into the folder before; a finished run is not started.
  void start();
  // Runs `body` (the stage after start()); an error it throws is written to log.txt as well,
  // so that the folder says why its run stopped, then passed on (a preemption is no error: the
  // loop logged it).
  template <typename Body>
  void logging_errors(Body&& body) {
    try {
      body();
    } catch (const Preempted&) {
      throw;
    } catch (const std::exception& e) {
      log_line(std::string("error: ") + e.what(), false);
      throw;
    }
  }

  // Resuming a run that has its final checkpoint: there is nothing to train, and nothing in the
  // folder was changed.
  bool finished() const { return finished_; }
  // Continuing a run that was in the folder (not finished): training resumes from a checkpoint.
  bool resuming() const { return resuming_; }
  const std::string& config_hash() const { return hash_; }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string checkpoint(const std::string& which) const { return checkpoint_path(dir_, which); }

  // Into log.txt, and onto stdout unless echo is false. eta_s: the seconds left (< 0: unknown).
  void log_step(int step, int total, double loss, double ms_per_step, double images_per_s, double eta_s,
                bool echo = true);
  void log_line(const std::string& line, bool echo = true);
  // Into the run's TensorBoard event file (nothing before start() or for a finished run). tag:
  // "group/name", e.g. "validation/foreground_dice"; png_path: a PNG file the stage wrote.
  void scalar(const std::string& tag, int step, double value);
  void picture(const std::string& tag, int step, const std::string& png_path);
  void progress(int step, int total, double loss, double ms_per_step);
  void end_progress();

 private:
  // Checks the run in the folder against this config; keeps the forms its paths are recorded in
  // (recorded_, recorded_init_) and their hash.
  void check_resumable(const Config& config, Stage stage, const std::string& init, Existing existing);
  void warn_if_arithmetic_changed(const Settings& settings) const;
  Config recorded_;  // the config as config.json records it (paths absolute or relative, see RunTree)
  std::string recorded_init_;
  std::optional<FolderLock> lock_;  // taken at once when the folder exists, else by start()
  Settings settings_;
  Stage stage_;
  std::string command_line_, init_;
  Existing existing_;
  std::string dir_, hash_;
  bool finished_ = false, resuming_ = false, started_ = false;
  std::FILE* log_ = nullptr;
  std::unique_ptr<EventWriter> events_;
  bool progress_open_ = false;
};

std::string environment_json(const Settings& settings, const std::string& command_line, const std::string& init = "");
// A duration for people: "1h02m", "6m46s", "12s".
std::string format_duration(double seconds);
void make_dirs(const std::string& path);  // mkdir -p; throws naming the path

}  // namespace cs
