#include "io/paths.h"
#include "experiments/pipeline/run_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <omp.h>

#include "autograd/atomic_file.h"
#include "autograd/device.h"
#include "experiments/pipeline/console.h"
#include "nn/checkpoint.h"
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

std::string environment_json(const Settings& settings, const std::string& command_line, const std::string& init) {
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
  const Device d = settings.run.device;
  j["device"] = device_description(d);
  j["threads"] = omp_get_max_threads();
  j["precision"] = precision_name(settings.run.precision);
  j["cpu_isa"] = cpu_bf16().isa;  // oneDNN's effective instruction set
  if (settings.run.precision == Precision::BF16) j["bf16"] = bf16_description(d);
  j["seed"] = settings.run.seed;
  j["command"] = command_line;
  j["cwd"] = absolute_path(".");  // the command's relative paths are relative to it
  if (!init.empty()) j["init"] = absolute_path(init);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
  // Which job and GPUs of a cluster trained it (the Slurm executor; CUDA_VISIBLE_DEVICES also locally).
  for (const char* var : {"SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "CUDA_VISIBLE_DEVICES"})
    if (const char* v = std::getenv(var)) j[var] = v;
  return j.dump(2) + "\n";
}

namespace {

// The hash of a config and init in the form a run folder records them (paths absolute, or
// relative to the run folder inside a RunTree).
std::string recorded_hash(const Config& recorded, Stage stage, const std::string& recorded_init) {
  // Keys added after run folders existed enter the hash only away from their default, so that
  // those folders keep their hash and resume.
  static const char* const later[] = {"n4"};
  const auto at_later_default = [&](const std::string& k) {
    for (const char* key : later)
      if (k == key && recorded.str(k) == Config().str(k)) return true;
    return false;
  };
  std::string text = std::string("stage=") + stage_name(stage) + "\ninit=" + recorded_init + "\n";
  for (const auto& k : weight_keys(stage))
    if (!at_later_default(k)) text += k + "=" + recorded.str(k) + "\n";
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: stable across compilers, unlike std::hash
  for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ull;
  return fmt::format("{:016x}", h);
}

std::string& active_run_tree() {  // the root of the live RunTree, absolute; "" for none
  static std::string root;
  return root;
}

bool lies_inside(const std::string& path, const std::string& root) {
  const auto rel = std::filesystem::path(path).lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

// How the run folder `dir` records `path`: relative to itself when both lie inside the live
// RunTree, else absolute.
std::string recorded_path(const std::string& path, const std::string& dir) {
  const std::string abs = absolute_path(path), run = absolute_path(dir), &tree = active_run_tree();
  if (abs.empty() || tree.empty() || !lies_inside(abs, tree) || !lies_inside(run, tree)) return abs;
  return std::filesystem::path(abs).lexically_relative(run).string();
}

// A recorded path read in the run folder `dir`: absolute.
std::string resolved_path(const std::string& recorded, const std::string& dir) {
  if (recorded.empty() || std::filesystem::path(recorded).is_absolute()) return recorded;
  return absolute_path(dir + "/" + recorded);
}

Config recorded_config(const Config& cfg, const std::string& dir) {
  Config c = cfg.with_absolute_paths();
  for (const auto& s : config_schema())
    if (s.type == KeyType::Path) c.set(s.key, recorded_path(c.str(s.key), dir), "run folder");
  return c;
}

// config.json as written, its paths in their recorded form.
StoredRun read_stored_run_as_written(const std::string& dir) {
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

// A stored run with its paths absolute, the relative ones read in its folder `dir`.
StoredRun resolved(StoredRun r, const std::string& dir) {
  r.init = resolved_path(r.init, dir);
  for (const auto& s : config_schema())
    if (s.type == KeyType::Path) r.config.set(s.key, resolved_path(r.config.str(s.key), dir), "run folder");
  return r;
}

}  // namespace

RunTree::RunTree(const std::string& root) : previous_(active_run_tree()) { active_run_tree() = absolute_path(root); }
RunTree::~RunTree() { active_run_tree() = previous_; }

std::string config_hash(const Settings& settings, Stage stage, const std::string& init) {
  return recorded_hash(settings.config.with_absolute_paths(), stage, absolute_path(init));
}

StoredRun read_stored_run(const std::string& dir) { return resolved(read_stored_run_as_written(dir), dir); }

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string checkpoint_path(const std::string& dir, const std::string& which) {
  return dir + "/checkpoints/" + which + ".safetensors";
}

namespace {

// A checkpoint is bound to the run that wrote it: its metadata carries that run's stage and config
// hash (training.cpp checkpoint_metadata), which must be those in the folder's config.json. Weights
// copied in from another run would otherwise be used with settings (image size, classes, init)
// that did not make them, and give numbers that look right.
void check_checkpoint_of_run(const std::string& dir, const StoredRun& run, const std::string& ck) {
  const auto md = read_checkpoint_metadata(ck);
  auto value = [&](const char* key) {
    const auto it = md.find(key);
    return it == md.end() || it->second.empty() ? std::string("(none)") : it->second;
  };
  const std::string stage = value("stage"), hash = value("config_hash");
  if (!run.config_hash.empty() && hash == run.config_hash && stage == run.stage) return;
  throw std::runtime_error(fmt::format(
      "{}: not made by the run in {}: the checkpoint says stage {}, config hash {}; {}/config.json says stage {}, "
      "config hash {}. Weights copied from another run are not used with this run's settings: use the run folder "
      "that made them (the whole folder, config.json included), or train this run again",
      ck, dir, stage, hash, dir, run.stage.empty() ? "(none)" : run.stage,
      run.config_hash.empty() ? "(none)" : run.config_hash));
}

}  // namespace

std::string run_checkpoint(const std::string& dir, const std::string& which) {
  std::string ck = checkpoint_path(dir, which);
  if (which == "best" && !path_exists(ck)) ck = checkpoint_path(dir, "final");
  if (!path_exists(ck)) throw std::runtime_error(dir + ": no checkpoint " + ck);
  check_checkpoint_of_run(dir, read_stored_run(dir), ck);
  return ck;
}

Settings load_run_settings(const std::string& dir, const std::vector<Stage>& expected_stages,
                           const std::string& checkpoint, Stage* stage_out) {
  StoredRun run = read_stored_run(dir);
  if (std::none_of(expected_stages.begin(), expected_stages.end(),
                   [&](Stage s) { return run.stage == stage_name(s); })) {
    std::string want;
    for (Stage s : expected_stages) want += (want.empty() ? "" : " or ") + std::string(stage_name(s));
    throw std::runtime_error(dir + ": a '" + run.stage + "' run, expected a " + want + " run");
  }
  const std::string ck = checkpoint_path(dir, checkpoint);
  if (!path_exists(ck)) throw std::runtime_error(dir + ": incomplete run, " + ck + " is missing (did it finish?)");
  check_checkpoint_of_run(dir, run, ck);
  if (stage_out) *stage_out = parse_stage(run.stage);
  return resolve_settings(run.config);
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
  std::vector<fs::path> files;
  for (const char* name : {"config.json", "env.json", "log.txt", "checkpoints", "eval"}) files.push_back(fs::path(dir) / name);
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(entry.path());
  for (const auto& file : files) {
    std::error_code ec;
    fs::remove_all(file, ec);
    if (ec) throw std::runtime_error(fmt::format("{}: cannot remove: {}", file.string(), ec.message()));
  }
}

}  // namespace

void RunFolder::check_resumable(const Config& config, Stage stage, const std::string& init, Existing existing) {
  const StoredRun written = read_stored_run_as_written(dir_), old = resolved(written, dir_);
  if (old.stage != stage_name(stage))
    throw std::runtime_error(fmt::format("{}: holds a {} run, not a {} run", dir_, old.stage, stage_name(stage)));
  const Config now = config.with_absolute_paths();
  const auto weights = weight_keys(stage);
  std::string refused, allowed;
  for (const auto& s : config_schema()) {
    if (old.config.str(s.key) == now.str(s.key)) continue;
    const std::string line = fmt::format("\n  {}: {} -> {}", s.key, old.config.str(s.key), now.str(s.key));
    (std::find(weights.begin(), weights.end(), s.key) != weights.end() ? refused : allowed) += line;
  }
  if (old.init != absolute_path(init))
    refused += fmt::format("\n  init run: {} -> {}", old.init.empty() ? "(none)" : old.init,
                           init.empty() ? "(none)" : absolute_path(init));
  // Only the user's --resume has --overwrite; reproduce and demo take another --out.
  if (!refused.empty() && existing == Existing::Resume)
    throw std::runtime_error(fmt::format(
        "{}: --resume with settings that change the weights; the run was made with other values:{}\n"
        "Resume with the run's settings, or start again with --overwrite (or another --out).",
        dir_, refused));
  if (!refused.empty())
    throw std::runtime_error(fmt::format(
        "{}: holds a run made with other settings that change the weights:{}\n"
        "Run with the run's settings, or choose another --out (or delete {} to train it again).",
        dir_, refused, dir_));
  if (!allowed.empty())
    say(fmt::format("{}: resuming with changed settings that do not affect the weights:{}", dir_, allowed));
  // The paths keep the form the folder records them in (relative inside a moved reproduce
  // folder): the hash covers that form.
  recorded_ = now;
  for (const auto& s : config_schema())
    if (s.type == KeyType::Path) recorded_.set(s.key, written.config.str(s.key), "run folder");
  recorded_init_ = written.init;
  hash_ = recorded_hash(recorded_, stage, recorded_init_);
  if (!old.config_hash.empty() && old.config_hash != hash_)
    throw std::runtime_error(fmt::format("{}: config.json says config hash {}, its values give {} (edited by hand?)",
                                         dir_, old.config_hash, hash_));
}

// The thread count, the CPU's instruction set and the device change how sums are rounded: a run
// resumed with others goes on, but will not end with the weights of an uninterrupted run.
void RunFolder::warn_if_arithmetic_changed(const Settings& settings) const {
  nlohmann::json old;
  try {
    std::ifstream f(dir_ + "/env.json");
    old = nlohmann::json::parse(f);
  } catch (const std::exception&) {
    return;  // no (readable) env.json: nothing to compare with
  }
  const nlohmann::json now = nlohmann::json::parse(environment_json(settings, ""));
  std::string changed;
  for (const char* key : {"threads", "cpu_isa", "device"})
    if (old.is_object() && old.contains(key) && old[key] != now[key])
      changed += fmt::format("\n  {}: {} -> {}", key, old[key].dump(), now[key].dump());
  if (changed.empty()) return;
  std::fprintf(stderr,
               "warning: %s: resuming with other arithmetic than the run had (its env.json):%s\n"
               "The run goes on, but its weights will not be bit-identical to those of an uninterrupted run.\n",
               dir_.c_str(), changed.c_str());
}

RunFolder::RunFolder(const std::string& dir, const Settings& settings, Stage stage, const std::string& command_line,
                     Existing existing, const std::string& init)
    : settings_(settings),
      stage_(stage),
      command_line_(command_line),
      init_(init),
      existing_(existing),
      dir_(dir) {
  // Before the lock, which would create the folder: a misspelled --resume folder stays unmade.
  if (existing == Existing::Resume && !path_exists(dir + "/config.json"))
    throw std::runtime_error(fmt::format("no run in {} to resume (it has no config.json); drop --resume to start one",
                                         dir));
  if (path_exists(dir)) lock_.emplace(dir, command_line);
  const bool holds_run = path_exists(dir + "/config.json");
  if (holds_run && existing == Existing::Refuse)
    throw std::runtime_error(fmt::format(
        "{}: holds a run already; add --resume to continue it, or --overwrite to discard it and start again", dir));
  if (!holds_run && existing == Existing::Resume)  // removed since the check above
    throw std::runtime_error(fmt::format("no run in {} to resume; drop --resume to start one", dir));
  if (!holds_run || existing == Existing::Overwrite) {
    recorded_ = recorded_config(settings.config, dir);
    recorded_init_ = recorded_path(init, dir);
    hash_ = recorded_hash(recorded_, stage, recorded_init_);
    return;
  }
  check_resumable(settings.config, stage, init, existing);
  finished_ = path_exists(checkpoint("final"));  // nothing to train, nothing to write
  resuming_ = !finished_;
  if (resuming_) warn_if_arithmetic_changed(settings);
}

void RunFolder::start() {
  if (finished_ || started_) throw std::logic_error(dir_ + ": RunFolder::start on a finished or started run");
  if (!lock_) {
    lock_.emplace(dir_, command_line_);  // creates the folder
    if (path_exists(dir_ + "/config.json"))  // another process started a run there meanwhile
      throw std::runtime_error(fmt::format("{}: a run was started there by another process meanwhile", dir_));
  }
  if (existing_ == Existing::Overwrite) remove_run_files(dir_);
  if (resuming_) remove_stale_temp_files(dir_);
  make_dirs(dir_ + "/checkpoints");
  nlohmann::json cfg = recorded_.to_json();  // readable from any directory (read_stored_run)
  cfg["stage"] = stage_name(stage_);
  cfg["init"] = recorded_init_;
  cfg["config_hash"] = hash_;
  write_file_atomic(dir_ + "/config.json", cfg.dump(2) + "\n");
  write_file_atomic(dir_ + "/env.json", environment_json(settings_, command_line_, init_));
  log_ = std::fopen((dir_ + "/log.txt").c_str(), resuming_ ? "a" : "w");
  if (!log_)
    throw std::runtime_error(fmt::format("{}/log.txt: cannot open for writing: {}", dir_, std::strerror(errno)));
  events_ = std::make_unique<EventWriter>(dir_);
  started_ = true;
}

RunFolder::~RunFolder() {
  end_progress();
  if (log_) std::fclose(log_);
}

void RunFolder::log_step(int step, int total, double loss, double ms, double ips, double eta_s, bool echo) {
  log_line(fmt::format("step {}/{} loss {:.6f} ms/step {:.1f} images/s {:.1f} eta {}", step, total, loss, ms, ips,
                       eta_s < 0 ? "?" : format_duration(eta_s)),
           echo);
  scalar("train/loss", step, loss);
  scalar("train/images_per_second", step, ips);
  scalar("train/learning_rate", step, settings_.learning_rate(stage_));
}

void RunFolder::scalar(const std::string& tag, int step, double value) {
  if (events_) events_->scalar(tag, step, value);
}

void RunFolder::picture(const std::string& tag, int step, const std::string& png_path) {
  if (!events_) return;
  std::ifstream f(png_path, std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The size is in the IHDR chunk: 8 bytes of signature, 8 of chunk header, then width and height.
  if (png.size() < 24 || png.compare(1, 3, "PNG") != 0) throw std::runtime_error(png_path + ": not a PNG file");
  const auto be32 = [&](size_t at) {
    return static_cast<int>((uint8_t(png[at]) << 24) | (uint8_t(png[at + 1]) << 16) | (uint8_t(png[at + 2]) << 8) |
                            uint8_t(png[at + 3]));
  };
  events_->image(tag, step, png, be32(20), be32(16));
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
