#include "experiments/pipeline/slurm_grid.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "autograd/atomic_file.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/preemption.h"
#include "experiments/pipeline/run_folder.h"
#include "io/paths.h"

namespace cs {
namespace {

namespace fs = std::filesystem;

struct Output {
  int status;
  std::string text;  // stdout and stderr
};
Output run_command(const std::string& command) {
  std::FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("cannot run: " + command);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, text};
}

bool on_path(const std::string& program) {
  return run_command("command -v " + program + " >/dev/null").status == 0;
}

// "0,2,5-7": the indices as Slurm's --array takes them.
std::string index_ranges(const std::vector<size_t>& ix) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < ix.size();) {
    size_t j = i;
    while (j + 1 < ix.size() && ix[j + 1] == ix[j] + 1) ++j;
    parts.push_back(j == i ? std::to_string(ix[i]) : fmt::format("{}-{}", ix[i], ix[j]));
    i = j + 1;
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

void check_word(const std::string& what, const std::string& value, const std::string& allowed) {
  if (value.find_first_not_of(allowed) != std::string::npos)
    throw std::invalid_argument(fmt::format("{} '{}': only the characters {} are allowed", what, value, allowed));
}

// The #SBATCH lines every job of the grid shares, then the job's own.
std::string script_header(const SlurmOptions& s, const std::string& name, const std::string& log, bool gpu,
                          const std::string& own) {
  std::string h = "#!/bin/bash\n";
  h += "#SBATCH --job-name=" + name + "\n#SBATCH --output=" + log + "\n#SBATCH --open-mode=append\n";
  h += fmt::format("#SBATCH --cpus-per-task={}\n", gpu ? s.cpus_per_task : 1);
  if (gpu && s.gpus_per_task > 0) h += fmt::format("#SBATCH --gres=gpu:{}\n", s.gpus_per_task);
  if (!s.partition.empty()) h += "#SBATCH --partition=" + s.partition + "\n";
  if (!s.account.empty()) h += "#SBATCH --account=" + s.account + "\n";
  if (!s.time.empty()) h += "#SBATCH --time=" + s.time + "\n";
  // Slurm's warning 2 minutes before the time limit: the task checkpoints and requeues itself.
  h += "#SBATCH --signal=B:USR1@120\n#SBATCH --requeue\n";
  // A job whose dependency failed is cancelled, not left pending forever (most clusters do not
  // set kill_invalid_depend).
  h += "#SBATCH --kill-on-invalid-dep=yes\n";
  for (const auto& line : s.sbatch_lines) h += (line.rfind("#SBATCH", 0) == 0 ? line : "#SBATCH " + line) + "\n";
  return h + own;
}

// Runs one task as a child, passing Slurm's signals on, and keeps its exit status in state/. Exit
// status kRequeueExitCode (checkpointed on a signal) requeues the job unless it is being
// cancelled (SIGTERM: scancel, or the cluster preempting it, which requeues it itself).
std::string script_body(const std::string& exe, const std::string& config, const std::string& out,
                        const std::string& task, const std::string& state) {
  return fmt::format(R"SH(
set -u
task={3}
state={4}
export OMP_NUM_THREADS="${{SLURM_CPUS_PER_TASK:-1}}"
requeue=0 term=0
{0} reproduce --config {1} --out {2} --task "$task" &
pid=$!
trap 'requeue=1; kill -USR1 $pid 2>/dev/null' USR1
trap 'term=1; kill -TERM $pid 2>/dev/null' TERM
while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || break; done
printf '%s %s\n' "$rc" "${{SLURM_JOB_ID:-}}" >"$state.tmp" && mv -f "$state.tmp" "$state"
if [ "$term" -eq 0 ] && {{ [ "$rc" -eq {5} ] || [ "$requeue" -eq 1 ]; }}; then
  echo "contraseg: $task requeued after a checkpoint (exit $rc)"
  scontrol requeue "$SLURM_JOB_ID" && exit 0
fi
exit $rc
)SH",
                     shell_quote(exe), shell_quote(config), shell_quote(out), task, state, kRequeueExitCode);
}

// Job ids (123, or 123_4 for an array task) in the queue, with their state and reason.
struct QueueEntry {
  std::string state, reason;
};
std::map<std::string, QueueEntry> read_queue() {
  const Output o = run_command("squeue --me --noheader --array --format='%i|%T|%r'");
  if (o.status != 0) throw std::runtime_error("squeue failed: " + o.text);
  std::map<std::string, QueueEntry> q;
  std::istringstream in(o.text);
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find('|'), b = line.find('|', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    q[line.substr(0, a)] = {line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  return q;
}

// The queue entry of a task's job: "101" for a job, "102_3" for an array task (a pending array
// shows its tasks one per line with --array, but as "102_[3-5]" before it was ever scheduled on
// some versions: the array's own id then stands for them).
const QueueEntry* in_queue(const std::map<std::string, QueueEntry>& q, const std::string& job) {
  auto it = q.find(job);
  if (it != q.end()) return &it->second;
  const auto u = job.find('_');
  if (u == std::string::npos) return nullptr;
  for (const auto& [id, e] : q)
    if (id.rfind(job.substr(0, u + 1) + "[", 0) == 0) return &e;
  return nullptr;
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// "step 3/8": the last step line of a run's log.txt, "" when it has none.
std::string last_step(const std::string& dir) {
  std::ifstream f(dir + "/log.txt");
  std::string last;
  for (std::string line; std::getline(f, line);)
    if (line.rfind("step ", 0) == 0) last = line.substr(0, line.find(' ', 5));
  return last;
}

// ": CANCELLED, DependencyNeverSatisfied" for a job that left the queue, while Slurm still knows
// it (MinJobAge); ": cancelled, killed, or a job it needs failed" otherwise.
std::string ended_job(const std::string& job) {
  const Output o = run_command("scontrol show job " + shell_quote(job));
  const auto field = [&](const std::string& key) {
    const auto at = o.text.find(" " + key + "=");
    if (o.status != 0 || at == std::string::npos) return std::string();
    const auto from = at + key.size() + 2;
    return o.text.substr(from, o.text.find_first_of(" \n", from) - from);
  };
  const std::string state = field("JobState"), reason = field("Reason");
  if (state.empty()) return ": cancelled, killed, or a job it needs failed";
  return ": " + state + (reason.empty() || reason == "None" ? "" : ", " + reason);
}

nlohmann::json read_manifest(const std::string& path) {
  std::ifstream f(path);
  try {
    return nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": malformed: " + e.what());
  }
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The jobs of an earlier submission of this table still in the queue.
std::vector<std::string> queued_jobs(const std::string& manifest, const std::map<std::string, QueueEntry>& q) {
  std::vector<std::string> left;
  if (!path_exists(manifest)) return left;
  const nlohmann::json m = read_manifest(manifest);
  for (const auto& t : m.at("tasks"))
    if (!t.at("job").get<std::string>().empty() && in_queue(q, t.at("job")))
      left.push_back(t.at("job").get<std::string>());
  return left;
}

// The status lines of one submitted grid; counts failures into `failed`.
std::string describe_grid(const std::string& manifest_path, const std::map<std::string, QueueEntry>* q, int& failed) {
  const nlohmann::json m = read_manifest(manifest_path);
  const std::string dir = fs::path(manifest_path).parent_path().string();
  std::string text = fmt::format("{} (submitted {}):\n", dir, m.value("submitted", "?"));
  std::vector<std::string> failures;
  size_t done = 0, total = 0;
  for (const auto& t : m.at("tasks")) {
    const GridTask task{t.at("id"), t.at("title"), t.at("dir"), {}};
    const std::string job = t.at("job");
    const std::string exit_line = read_line(dir + "/state/" + task_file_name(task.id));
    const int rc = exit_line.empty() ? -1 : std::atoi(exit_line.c_str());
    const QueueEntry* e = q && !job.empty() ? in_queue(*q, job) : nullptr;
    std::string state;
    ++total;
    if (task_finished(task) && !e) {
      state = "done";
      ++done;
    } else if (e) {
      state = fmt::format("{} (job {}{})", e->state, job, e->reason.empty() || e->reason == "None" ? "" : ", " + e->reason);
    } else if (job.empty()) {
      state = "not submitted";
    } else if (rc > 0 && rc != kRequeueExitCode) {
      state = fmt::format("FAILED (job {}, exit {})", job, rc);
      failures.push_back(fmt::format("{} ({}) failed with exit status {}: see {}/logs/{}.out", task.id, task.title,
                                     rc, dir, task_file_name(task.id)));
    } else if (!q) {
      state = "not finished (the queue cannot be read here)";
    } else {
      const std::string ended = ended_job(job);
      state = fmt::format("ENDED WITHOUT FINISHING (job {}{})", job, ended);
      failures.push_back(fmt::format("{} ({}) did not run to its end: job {} left the queue{}", task.id, task.title,
                                     job, ended));
    }
    const std::string step = task.id == "table" ? "" : last_step(task.dir);
    text += fmt::format("  {:<22} {}{}  {}\n", task.id, state, step.empty() || state == "done" ? "" : ", at " + step,
                        task.title);
  }
  text += fmt::format("{} of {} tasks done.\n", done, total);
  for (const auto& f : failures) text += "  " + f + "\n";
  if (!failures.empty())
    text += "Fix the cause and run the same reproduce command again: finished runs are kept and killed ones resume.\n";
  failed += static_cast<int>(failures.size());
  return text;
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

int submit_grid(const Settings& settings, const ReproduceOptions& opt, const SlurmOptions& slurm) {
  check_word("--partition", slurm.partition, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,-");
  check_word("--account", slurm.account, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
  if (slurm.time != "UNLIMITED" && slurm.time != "INFINITE" &&
      slurm.time.find_first_not_of("0123456789:-") != std::string::npos)
    throw std::invalid_argument(fmt::format("--time '{}': give it as Slurm does: minutes (240), HH:MM:SS, "
                                            "D-HH:MM:SS (0-04:00:00) or UNLIMITED",
                                            slurm.time));
  for (const auto& line : slurm.sbatch_lines)
    if (line.find('\n') != std::string::npos || line.empty())
      throw std::invalid_argument("--sbatch-line: one non-empty line each");
  if (!slurm.dry_run)
    for (const char* program : {"sbatch", "squeue", "scontrol", "scancel"})
      if (!on_path(program))
        throw std::runtime_error(fmt::format(
            "--executor slurm: {} not found; run reproduce on a Slurm cluster's login node, start a private one "
            "(scripts/slurm-local.sh start DIR, then source DIR/env.sh), or use --dry-run to write the scripts only",
            program));
  const std::string out = absolute_path(opt.out);
  const std::vector<GridTask> tasks = reproduce_tasks(settings, out);  // checks the split and every case
  const std::string stem = fs::path(tasks.back().dir).stem().string();
  const std::string dir = out + "/slurm/" + stem, manifest_path = dir + "/manifest.json";
  const auto queue = slurm.dry_run ? std::map<std::string, QueueEntry>{} : read_queue();
  const auto left = queued_jobs(manifest_path, queue);
  if (!left.empty())
    throw std::runtime_error(fmt::format(
        "{}: jobs {} of an earlier submission of this table are still queued or running; wait for them "
        "(contraseg reproduce --out {} --status) or cancel them (scancel), then submit again",
        dir, fmt::join(left, ", "), opt.out));
  const FolderLock lock(out, opt.command_line);  // no local reproduce while the grid is written
  make_dirs(dir + "/logs");
  make_dirs(dir + "/state");
  const std::string config = dir + "/config.json", exe = this_executable();
  settings.config.with_absolute_paths().save(config);

  // What is left to do, and the scripts for it.
  std::vector<const GridTask*> pretrain;
  std::vector<size_t> finetune;  // indices of finetune:i
  for (const auto& t : tasks) {
    if (task_finished(t) && t.id != "table") continue;
    if (t.id.rfind("pretrain:", 0) == 0) pretrain.push_back(&t);
    if (t.id.rfind("finetune:", 0) == 0) finetune.push_back(std::stoul(t.id.substr(9)));
  }
  const auto script = [&](const std::string& name) { return dir + "/" + name + ".sbatch"; };
  for (const GridTask* t : pretrain) {
    const std::string name = task_file_name(t->id);
    write_file_atomic(script(name), script_header(slurm, "cs-" + name, dir + "/logs/" + name + ".out", true, "") +
                                        script_body(exe, config, out, t->id, shell_quote(dir + "/state/" + name)));
  }
  if (!finetune.empty()) {
    const std::string array = fmt::format("#SBATCH --array={}{}\n", index_ranges(finetune),
                                          slurm.array_limit > 0 ? fmt::format("%{}", slurm.array_limit) : "");
    write_file_atomic(script("finetune"),
                      script_header(slurm, "cs-finetune", dir + "/logs/finetune_%a.out", true, array) +
                          script_body(exe, config, out, "\"finetune:$SLURM_ARRAY_TASK_ID\"",
                                      shell_quote(dir + "/state/finetune_") + "\"$SLURM_ARRAY_TASK_ID\""));
  }
  write_file_atomic(script("table"), script_header(slurm, "cs-table", dir + "/logs/table.out", false, "") +
                                         script_body(exe, config, out, "table", shell_quote(dir + "/state/table")));

  // Submission, in dependency order; a failure cancels what was submitted.
  const std::string submitted_at = now_utc();
  // The manifest names every job submitted so far: written after each submission, so that a
  // submission that stops half way still leaves its jobs known to --status and to the next one.
  std::map<std::string, std::string> jobs;  // task id (or "finetune") -> job id
  const auto write_manifest = [&] {
    nlohmann::json m;
    m["table"] = stem;
    m["submitted"] = submitted_at;
    m["command_line"] = opt.command_line;
    m["dry_run"] = slurm.dry_run;
    m["tasks"] = nlohmann::json::array();
    for (const auto& t : tasks) {
      std::string job;
      if (jobs.count(t.id)) job = jobs[t.id];
      if (t.id.rfind("finetune:", 0) == 0 && jobs.count("finetune") &&
          std::find(finetune.begin(), finetune.end(), std::stoul(t.id.substr(9))) != finetune.end())
        job = jobs["finetune"] + "_" + t.id.substr(9);
      if (slurm.dry_run) job.clear();
      m["tasks"].push_back({{"id", t.id}, {"title", t.title}, {"dir", t.dir}, {"job", job}});
    }
    write_file_atomic(manifest_path, m.dump(2) + "\n");
  };
  std::vector<std::string> submitted;
  const auto submit = [&](const std::string& key, const std::string& file, const std::vector<std::string>& after) {
    std::string cmd = "sbatch --parsable";
    if (!after.empty()) cmd += fmt::format(" --dependency=afterok:{}", fmt::join(after, ":"));
    cmd += " " + shell_quote(file);
    if (slurm.dry_run) {
      std::printf("  %s\n", cmd.c_str());
      // Printed only: the job id is unknown until submission, so the later lines name it $SCRIPT.
      return jobs[key] = "$" + fs::path(file).stem().string();
    }
    const Output o = run_command(cmd);
    const std::string id = o.text.substr(0, o.text.find_first_of(";\n"));
    if (o.status != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      if (!submitted.empty()) run_command("scancel " + fmt::format("{}", fmt::join(submitted, " ")));
      throw std::runtime_error(fmt::format("{} failed (exit {}): {}{}", cmd, o.status, o.text,
                                           submitted.empty() ? "" : "; cancelled the jobs it had submitted"));
    }
    submitted.push_back(id);
    jobs[key] = id;
    write_manifest();
    return id;
  };
  if (slurm.dry_run) std::printf("reproduce: the scripts are in %s; submit them in this order:\n", dir.c_str());
  std::vector<std::string> pretrain_jobs;
  for (const GridTask* t : pretrain) {
    std::vector<std::string> after;
    for (const auto& a : t->after)
      if (jobs.count(a)) after.push_back(jobs[a]);
    submit(t->id, script(task_file_name(t->id)), after);
    pretrain_jobs.push_back(jobs[t->id]);
  }
  if (!finetune.empty()) submit("finetune", script("finetune"), pretrain_jobs);
  submit("table", script("table"), finetune.empty() ? pretrain_jobs : std::vector<std::string>{jobs["finetune"]});

  write_manifest();
  if (slurm.dry_run) return 0;
  std::printf("reproduce: submitted %zu pre-training job%s%s, %s, and the table (job %s); %zu finished run%s kept.\n"
              "Watch: contraseg reproduce --out %s --status; tensorboard --logdir %s\n",
              pretrain.size(), pretrain.size() == 1 ? "" : "s",
              pretrain.empty() ? "" : fmt::format(" ({})", fmt::join(pretrain_jobs, ", ")).c_str(),
              finetune.empty() ? "no fine-tuning runs left"
                               : fmt::format("{} fine-tuning run{} as array job {}{}", finetune.size(),
                                             finetune.size() == 1 ? "" : "s", jobs["finetune"],
                                             slurm.array_limit > 0 ? fmt::format(" (at most {} at once)", slurm.array_limit)
                                                                   : "").c_str(),
              jobs["table"].c_str(), tasks.size() - 1 - pretrain.size() - finetune.size(),
              tasks.size() - 1 - pretrain.size() - finetune.size() == 1 ? "" : "s", opt.out.c_str(), opt.out.c_str());
  std::fflush(stdout);
  if (!slurm.wait) return 0;
  return grid_status(opt.out, true) == 0 && path_exists(tasks.back().dir) ? 0 : 1;
}

int grid_status(const std::string& out, bool wait) {
  std::vector<std::string> manifests;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out + "/slurm", ec))
    if (path_exists(e.path().string() + "/manifest.json")) manifests.push_back(e.path().string() + "/manifest.json");
  if (manifests.empty())
    throw std::runtime_error(fmt::format("{}: no grid was submitted into this folder ({}/slurm/*/manifest.json); "
                                         "submit one with contraseg reproduce --executor slurm --out {}",
                                         out, out, out));
  std::sort(manifests.begin(), manifests.end());
  std::vector<std::string> jobs;  // every job of every grid
  for (const auto& path : manifests) {
    const nlohmann::json m = read_manifest(path);
    for (const auto& t : m.at("tasks"))
      if (!t.at("job").get<std::string>().empty()) jobs.push_back(t.at("job"));
  }
  // --wait: until none of the jobs is in the queue, a line whenever the counts change.
  const auto t0 = std::chrono::steady_clock::now();
  for (std::string last; wait;) {
    const auto q = read_queue();
    std::map<std::string, int> counts;
    for (const auto& job : jobs)
      if (const QueueEntry* e = in_queue(q, job)) ++counts[e->state];
    if (counts.empty()) break;
    std::vector<std::string> parts;
    for (const auto& [state, n] : counts) parts.push_back(fmt::format("{} {}", n, state));
    const std::string line = fmt::format("{}", fmt::join(parts, ", "));
    if (line != last)
      std::printf("[%5.0fs] grid: %s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                  line.c_str());
    std::fflush(stdout);
    last = line;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::map<std::string, QueueEntry> queue;
  std::string unreadable;
  try {
    queue = read_queue();
  } catch (const std::exception& e) {
    unreadable = e.what();
  }
  int failed = 0;
  for (const auto& m : manifests)
    std::printf("%s", describe_grid(m, unreadable.empty() ? &queue : nullptr, failed).c_str());
  if (!unreadable.empty())
    std::printf("(queued and running jobs are not shown: %s)\n", unreadable.substr(0, unreadable.find('\n')).c_str());
  return failed > 0 ? 1 : 0;
}

}  // namespace cs
