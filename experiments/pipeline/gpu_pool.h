#pragma once
// reproduce --gpus: the grid of a reproduce folder on several GPUs of this machine. Each
// pre-training and fine-tuning run is a child process (`contraseg reproduce --task ID`, the code a
// Slurm job runs) with CUDA_VISIBLE_DEVICES naming one GPU, one run per GPU at a time, each after
// the runs it starts from; its output goes to OUT/logs/<task>.log. The table is written when every
// run has ended well.
#include <string>
#include <vector>

#include "experiments/pipeline/reproduce.h"

namespace cs {

// "0,1,3" (as CUDA_VISIBLE_DEVICES numbers them) or "all" (those CUDA_VISIBLE_DEVICES names when it
// is set, else every GPU) -> the GPU ids; throws std::invalid_argument naming --gpus.
std::vector<std::string> parse_gpu_list(const std::string& list);

// Runs what is not finished and returns the markdown table. A run that fails stops the runs that
// start from it (the others go on); then throws naming each failed and skipped task and its log.
std::string run_reproduce_on_gpus(const Settings& settings, const ReproduceOptions& opt,
                                  const std::vector<std::string>& gpus);

}  // namespace cs
