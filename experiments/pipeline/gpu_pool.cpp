#include "experiments/pipeline/gpu_pool.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "autograd/device.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/pipeline/task_graph.h"
#include "experiments/pipeline/training.h"
#include "io/paths.h"

extern char** environ;

namespace cs {
namespace {

// `exe reproduce --config CONFIG --out OUT --task ID` with CUDA_VISIBLE_DEVICES=gpu, its output
// appended to `log`.
pid_t spawn_task(const std::string& exe, const std::string& config, const std::string& out, const std::string& id,
                 const std::string& gpu, const std::string& log) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "CUDA_VISIBLE_DEVICES=", 21) != 0) env_text.emplace_back(*e);
  env_text.push_back("CUDA_VISIBLE_DEVICES=" + gpu);
  std::vector<std::string> arg_text = {exe, "reproduce", "--config", config, "--out", out, "--task", id};
  std::vector<char*> env, args;
  for (auto& s : env_text) env.push_back(s.data());
  for (auto& s : arg_text) args.push_back(s.data());
  env.push_back(nullptr);
  args.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, exe.c_str(), &files, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&files);
  if (err != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", exe, std::strerror(err)));
  return pid;
}

}  // namespace

std::vector<std::string> parse_gpu_list(const std::string& list) {
  std::vector<std::string> gpus;
  if (list == "all") {
    // The GPUs this process sees: those CUDA_VISIBLE_DEVICES names when it is set, since each
    // child's CUDA_VISIBLE_DEVICES replaces it.
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    std::stringstream named(visible ? visible : "");
    for (std::string id; visible && std::getline(named, id, ',');)
      if (!id.empty()) gpus.push_back(id);
    if (!visible)
      for (int i = 0; i < cuda_device_count(); ++i) gpus.push_back(std::to_string(i));
    if (gpus.empty() || cuda_device_count() == 0)
      throw std::invalid_argument("--gpus all: " + device_description(Device::CUDA) + "; no GPU is visible");
    return gpus;
  }
  std::stringstream in(list);
  std::set<std::string> seen;
  for (std::string id; std::getline(in, id, ',');) {
    if (id.empty() || id.size() > 3 || id.find_first_not_of("0123456789") != std::string::npos || !seen.insert(id).second)
      throw std::invalid_argument(fmt::format(
          "--gpus {}: give the GPUs as numbers, each once, separated by commas (0,1,2), or all", list));
    gpus.push_back(id);
  }
  if (gpus.empty()) throw std::invalid_argument("--gpus: give the GPUs as numbers (0,1,2), or all");
  return gpus;
}

std::string run_reproduce_on_gpus(const Settings& settings, const ReproduceOptions& opt,
                                  const std::vector<std::string>& gpus) {
  if (settings.run.device != Device::CUDA)
    throw std::invalid_argument("--gpus trains on GPUs, but device = cpu; add --device cuda (on the CPU, "
                                "reproduce.workers trains runs side by side)");
  checked_device(settings);  // a GPU is there, before anything is written
  const std::string out = absolute_path(opt.out);
  const std::vector<GridTask> all = reproduce_tasks(settings, out);  // checks the split and every case
  const FolderLock lock(out, opt.command_line);
  const std::string config = out + "/config.json", logs = out + "/logs", exe = this_executable();
  settings.config.with_absolute_paths().save(config);
  make_dirs(logs);
  // The runs left, each needing only those of its runs that are left too.
  std::vector<const GridTask*> left;
  std::set<std::string> left_ids;
  for (const auto& t : all)
    if (t.id != "table" && !task_finished(t)) {
      left.push_back(&t);
      left_ids.insert(t.id);
    }
  std::vector<GraphTask> graph;
  for (const GridTask* t : left) {
    GraphTask g{t->id, {}};
    for (const auto& a : t->after)
      if (left_ids.count(a)) g.after.push_back(a);
    graph.push_back(g);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto stamp = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  std::printf("reproduce: %zu runs on GPUs %s, one per GPU at a time (%zu finished runs kept); logs in %s\n",
              left.size(), fmt::format("{}", fmt::join(gpus, ",")).c_str(), all.size() - 1 - left.size(), logs.c_str());
  size_t done = 0;
  const GraphOutcome outcome = run_task_graph(
      graph, gpus,
      [&](size_t i, const std::string& gpu) {
        std::printf("[%5.0fs] GPU %s: %s (%s)\n", stamp(), gpu.c_str(), left[i]->id.c_str(), left[i]->title.c_str());
        std::fflush(stdout);
        return spawn_task(exe, config, out, left[i]->id, gpu, logs + "/" + task_file_name(left[i]->id) + ".log");
      },
      [&](size_t i, const std::string& gpu, int status) {
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        done += ok;
        const std::string how = ok                  ? "done"
                                : WIFEXITED(status) ? fmt::format("FAILED (exit {})", WEXITSTATUS(status))
                                                    : fmt::format("KILLED (signal {})", WTERMSIG(status));
        std::printf("[%5.0fs] GPU %s: %s %s; %zu of %zu runs done\n", stamp(), gpu.c_str(), left[i]->id.c_str(),
                    how.c_str(), done, left.size());
        std::fflush(stdout);
      });
  if (!outcome.failed.empty() || !outcome.skipped.empty()) {
    std::string what;
    for (const auto& id : outcome.failed) what += fmt::format("\n  {} failed: see {}/{}", id, logs, task_file_name(id) + ".log");
    for (const auto& id : outcome.skipped) what += fmt::format("\n  {} did not run: a run it starts from failed", id);
    throw std::runtime_error(fmt::format("{} run{} did not finish, so the table is not written:{}\nFix the cause and "
                                         "run the same command again: finished runs are kept, killed ones resume",
                                         outcome.failed.size() + outcome.skipped.size(),
                                         outcome.failed.size() + outcome.skipped.size() == 1 ? "" : "s", what));
  }
  run_reproduce_task(settings, opt, "table");
  std::ifstream f(all.back().dir);
  std::stringstream md;
  md << f.rdbuf();
  return md.str();
}

}  // namespace cs
