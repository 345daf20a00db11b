#pragma once
// A run folder (DESIGN.md): everything one stage produces, in one place.
//   config.json   the resolved configuration, its paths (data, splits) absolute
//   env.json      version, compiler, CUDA/cuDNN, device, threads, seed, command line, working
//                 directory, and the absolute init run folder (if any)
//   log.txt       one fixed-format line per logged step:
//                 "step 120 loss 0.412331 ms/step 812.4 images/s 24.6"
//   checkpoints/  latest.safetensors, best.safetensors, final.safetensors
// On a terminal a progress line with the ETA is redrawn in place.
#include <chrono>
#include <cstdio>
#include <string>

#include "experiments/config.h"

namespace cs {

class RunFolder {
 public:
  // Creates `dir` (and checkpoints/) and writes config.json and env.json. With resume, an
  // existing folder is reused and log.txt is appended to. init: the run folder this one starts
  // from ("" = none).
  RunFolder(const std::string& dir, const Config& config, const std::string& stage,
            const std::string& command_line, bool resume, const std::string& init = "");
  ~RunFolder();

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string checkpoint(const std::string& which) const {  // latest | best | final
    return dir_ + "/checkpoints/" + which + ".safetensors";
  }

  // Into log.txt, and onto stdout unless echo is false.
  void log_step(int step, double loss, double ms_per_step, double images_per_s, bool echo = true);
  void log_line(const std::string& line, bool echo = true);
  void progress(int step, int total, double loss, double ms_per_step);
  void end_progress();

 private:
  std::string dir_;
  std::FILE* log_ = nullptr;
  bool tty_;
  bool progress_open_ = false;
};

std::string environment_json(const Config& config, const std::string& command_line, const std::string& init = "");
void make_dirs(const std::string& path);  // mkdir -p; throws naming the path

}  // namespace cs
