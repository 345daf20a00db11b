#include "experiments/cli.h"
#include "experiments/run_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <omp.h>

#include "autograd/atomic_file.h"
#include "autograd/device.h"

namespace cs {

void make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        throw std::runtime_error(cur + ": cannot create directory (" + std::strerror(errno) + ")");
    }
    if (i < path.size()) cur += path[i];
  }
}

std::string environment_json(const Config& config, const std::string& command_line, const std::string& init) {
  nlohmann::json j;
  j["version"] = CONTRASEG_VERSION;
#if defined(__clang__)
  j["compiler"] = fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  j["compiler"] = fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
#ifdef CONTRASEG_CUDA
  j["cuda_backend"] = true;
#else
  j["cuda_backend"] = false;
#endif
  const Device d = config.str("device") == "cuda" ? Device::CUDA : Device::CPU;
  j["device"] = device_description(d);
  j["threads"] = omp_get_max_threads();
  j["seed"] = config.integer("seed");
  j["command"] = command_line;
  j["cwd"] = absolute_path(".");  // the command's relative paths are relative to it
  if (!init.empty()) j["init"] = absolute_path(init);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
  return j.dump(2) + "\n";
}

RunFolder::RunFolder(const std::string& dir, const Config& config, const std::string& stage,
                     const std::string& command_line, bool resume, const std::string& init)
    : dir_(dir), tty_(isatty(fileno(stdout))) {
  if (!resume && path_exists(dir + "/log.txt") &&
      path_exists(dir + "/checkpoints/final.safetensors"))
    throw std::runtime_error(dir + ": holds a finished run; choose another --out or delete it");
  make_dirs(dir + "/checkpoints");
  nlohmann::json cfg = config.with_absolute_paths().to_json();  // readable from any directory
  cfg["stage"] = stage;
  write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  write_file_atomic(dir + "/env.json", environment_json(config, command_line, init));
  log_ = std::fopen((dir + "/log.txt").c_str(), resume ? "a" : "w");
  if (!log_) throw std::runtime_error(dir + "/log.txt: cannot open for writing");
}

RunFolder::~RunFolder() {
  end_progress();
  if (log_) std::fclose(log_);
}

void RunFolder::log_step(int step, double loss, double ms, double ips, bool echo) {
  log_line(fmt::format("step {} loss {:.6f} ms/step {:.1f} images/s {:.1f}", step, loss, ms, ips), echo);
}

void RunFolder::log_line(const std::string& line, bool echo) {
  std::fprintf(log_, "%s\n", line.c_str());
  std::fflush(log_);
  if (!echo) return;
  if (progress_open_) std::printf("\r\033[K");
  progress_open_ = false;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void RunFolder::progress(int step, int total, double loss, double ms) {
  if (!tty_) return;
  const double eta_s = (total - step) * ms / 1000.0;
  std::printf("\r\033[K  [%d/%d] loss %.4f  %.0f ms/step  ETA %dm%02ds", step, total, loss, ms,
              static_cast<int>(eta_s) / 60, static_cast<int>(eta_s) % 60);
  std::fflush(stdout);
  progress_open_ = true;
}

void RunFolder::end_progress() {
  if (progress_open_) std::printf("\n");
  progress_open_ = false;
}

}  // namespace cs
