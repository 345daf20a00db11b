#include "io/paths.h"
#include "experiments/pipeline/run_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <omp.h>

#include "autograd/atomic_file.h"
#include "autograd/device.h"
#include "experiments/pipeline/console.h"
#include "ops/precision.h"

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
  j["precision"] = config.str("precision");
  j["cpu_isa"] = cpu_bf16().isa;  // oneDNN's effective instruction set
  if (config.str("precision") == "bf16") j["bf16"] = bf16_description(d);
  j["seed"] = config.integer("seed");
  j["command"] = command_line;
  j["cwd"] = absolute_path(".");  // the command's relative paths are relative to it
  if (!init.empty()) j["init"] = absolute_path(init);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
  return j.dump(2) + "\n";
}

std::vector<std::string> weight_keys(const std::string& stage) {
  // Keys of one stage carry its prefix; the unprefixed ones are shared by every stage.
  const std::string own = stage == "pretrain-global" ? "global." : stage == "pretrain-local" ? "local." : "finetune.";
  std::vector<std::string> keys;
  for (const auto& s : config_schema()) {
    const auto dot = s.key.find('.');
    const bool shared = dot == std::string::npos;
    // What only logs or paces a run does not change its weights.
    if (s.key == "log_every" || s.key == "checkpoint_every" || s.key == "threads" || s.key == "global.knn_every" ||
        s.key == "local.retrieval_every")
      continue;
    if (shared || s.key.compare(0, own.size(), own) == 0) keys.push_back(s.key);
  }
  return keys;
}

std::string config_hash(const Config& cfg, const std::string& stage, const std::string& init) {
  const Config c = cfg.with_absolute_paths();
  std::string text = "stage=" + stage + "\ninit=" + absolute_path(init) + "\n";
  for (const auto& k : weight_keys(stage)) text += k + "=" + c.str(k) + "\n";
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: stable across compilers, unlike std::hash
  for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ull;
  return fmt::format("{:016x}", h);
}

StoredRun read_stored_run(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::ifstream f(path);
  if (!f) throw std::runtime_error(dir + ": not a run folder (no config.json)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": malformed: " + e.what());
  }
  if (!j.is_object()) throw std::runtime_error(path + ": not a JSON object");
  StoredRun r;
  r.stage = j.value("stage", "");
  r.init = j.value("init", "");
  r.config_hash = j.value("config_hash", "");
  for (const char* k : {"stage", "init", "config_hash"}) j.erase(k);
  r.config.load_json(j, path);
  return r;
}

std::string checkpoint_path(const std::string& dir, const std::string& which) {
  return dir + "/checkpoints/" + which + ".safetensors";
}

std::string run_checkpoint(const std::string& dir, const std::string& which) {
  std::string ck = checkpoint_path(dir, which);
  if (which == "best" && !path_exists(ck)) ck = checkpoint_path(dir, "final");
  if (!path_exists(ck)) throw std::runtime_error(dir + ": no checkpoint " + ck);
  return ck;
}

Config load_run_config(const std::string& dir, const std::vector<std::string>& expected_stages,
                       const std::string& checkpoint, std::string* stage_out) {
  StoredRun run = read_stored_run(dir);
  if (std::find(expected_stages.begin(), expected_stages.end(), run.stage) == expected_stages.end()) {
    std::string want;
    for (const auto& s : expected_stages) want += (want.empty() ? "" : " or ") + s;
    throw std::runtime_error(dir + ": a '" + run.stage + "' run, expected a " + want + " run");
  }
  const std::string ck = checkpoint_path(dir, checkpoint);
  if (!path_exists(ck)) throw std::runtime_error(dir + ": incomplete run, " + ck + " is missing (did it finish?)");
  if (stage_out) *stage_out = run.stage;
  return run.config;
}

void check_init_matches(const Config& init, const Config& cfg, const std::string& init_dir) {
  for (const char* key : {"dataset", "image_size", "target_res"})
    if (init.str(key) != cfg.str(key))
      throw std::invalid_argument(fmt::format("--init {}: its {} is '{}', this run's is '{}'", init_dir, key,
                                              init.str(key), cfg.str(key)));
}

namespace {

// What a killed process left half-written: temp files of the atomic writer (".tmp.PID.N" in the name).
// Only the folder's lock holder writes there, so none of them is still in use.
void remove_stale_temp_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const fs::path& d : {fs::path(dir), fs::path(dir) / "checkpoints"})
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
}

void remove_run_files(const std::string& dir) {
  namespace fs = std::filesystem;
  for (const char* name : {"config.json", "env.json", "log.txt", "checkpoints", "eval"}) {
    std::error_code ec;
    fs::remove_all(fs::path(dir) / name, ec);
    if (ec) throw std::runtime_error(fmt::format("{}/{}: cannot remove: {}", dir, name, ec.message()));
  }
}

}  // namespace

void RunFolder::check_resumable(const Config& config, const std::string& stage, const std::string& init) const {
  const StoredRun old = read_stored_run(dir_);
  if (old.stage != stage)
    throw std::runtime_error(fmt::format("{}: holds a {} run, not a {} run", dir_, old.stage, stage));
  const Config now = config.with_absolute_paths();
  const auto weights = weight_keys(stage);
  std::string refused, allowed;
  for (const auto& s : config_schema()) {
    if (old.config.str(s.key) == now.str(s.key)) continue;
    const std::string line = fmt::format("\n  {}: {} -> {}", s.key, old.config.str(s.key), now.str(s.key));
    (std::find(weights.begin(), weights.end(), s.key) != weights.end() ? refused : allowed) += line;
  }
  if (old.init != absolute_path(init))
    refused += fmt::format("\n  --init: {} -> {}", old.init.empty() ? "(none)" : old.init,
                           init.empty() ? "(none)" : absolute_path(init));
  if (!refused.empty())
    throw std::runtime_error(fmt::format(
        "{}: --resume with settings that change the weights; the run was made with other values:{}\n"
        "Resume with the run's settings, or start again with --overwrite (or another --out).",
        dir_, refused));
  if (!allowed.empty())
    say(fmt::format("{}: resuming with changed settings that do not affect the weights:{}", dir_, allowed));
  if (!old.config_hash.empty() && old.config_hash != hash_)
    throw std::runtime_error(fmt::format("{}: config.json says config hash {}, its values give {} (edited by hand?)",
                                         dir_, old.config_hash, hash_));
}

RunFolder::RunFolder(const std::string& dir, const Config& config, const std::string& stage,
                     const std::string& command_line, Existing existing, const std::string& init)
    : lock_(dir, command_line), dir_(dir), hash_(cs::config_hash(config, stage, init)) {
  bool holds_run = path_exists(dir + "/config.json");
  if (holds_run && existing == Existing::Refuse)
    throw std::runtime_error(fmt::format(
        "{}: holds a run already; add --resume to continue it, or --overwrite to discard it and start again", dir));
  if (holds_run && existing == Existing::Overwrite) {
    remove_run_files(dir);
    holds_run = false;
  }
  if (holds_run) {
    check_resumable(config, stage, init);
    remove_stale_temp_files(dir);
    finished_ = path_exists(checkpoint("final"));
    if (finished_) return;  // nothing to train, nothing to write
    resuming_ = true;
  }
  make_dirs(dir + "/checkpoints");
  nlohmann::json cfg = config.with_absolute_paths().to_json();  // readable from any directory
  cfg["stage"] = stage;
  cfg["init"] = absolute_path(init);
  cfg["config_hash"] = hash_;
  write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  write_file_atomic(dir + "/env.json", environment_json(config, command_line, init));
  log_ = std::fopen((dir + "/log.txt").c_str(), holds_run ? "a" : "w");
  if (!log_) throw std::runtime_error(fmt::format("{}/log.txt: cannot open for writing: {}", dir, std::strerror(errno)));
}

RunFolder::~RunFolder() {
  end_progress();
  if (log_) std::fclose(log_);
}

void RunFolder::log_step(int step, double loss, double ms, double ips, bool echo) {
  log_line(fmt::format("step {} loss {:.6f} ms/step {:.1f} images/s {:.1f}", step, loss, ms, ips), echo);
}

void RunFolder::log_line(const std::string& line, bool echo) {
  if (log_) {  // a finished run's folder is left untouched
    std::fprintf(log_, "%s\n", line.c_str());
    std::fflush(log_);
  }
  if (!echo) return;
  if (progress_open_) std::printf("\r\033[K");
  progress_open_ = false;
  say(line);
}

void RunFolder::progress(int step, int total, double loss, double ms) {
  if (!console_live()) return;
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
