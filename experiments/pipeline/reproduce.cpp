#include "io/paths.h"
#include "experiments/pipeline/reproduce.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "autograd/atomic_file.h"
#include "autograd/device.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/data.h"
#include "experiments/evaluation/pictures.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/parallel_runs.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"

namespace cs {
namespace {

double read_summary_dice(const std::string& path) {
  std::ifstream f(path);
  const auto j = nlohmann::json::parse(f);
  return j["foreground_mean_dice"].is_null() ? std::nan("") : j["foreground_mean_dice"].get<double>();
}

struct Row {
  std::string key, label, init;  // init: "", "global", "local"
};

// One fine-tuning run of the table, and its test score once it has run.
struct FinetuneJob {
  const Row* row;
  std::string tr, comb, dir;
  double dice = std::nan("");
};

// How many fine-tuning runs train at once, on how many threads each (reproduce.workers).
struct SideBySide {
  int workers = 1, threads = 0;  // threads 0: the configured threads (one run at a time)
};
SideBySide side_by_side(const Settings& settings, size_t runs) {
  const int asked = settings.reproduce.workers;
  if (asked == 1 || checked_device(settings) != Device::CPU) return {};  // one device: one run at a time
  const int total = thread_count(settings);  // at most the hardware threads
  // 0: a run per thread, each on one thread, so that a run's arithmetic is that of one thread on
  // any machine; W: W runs sharing the threads.
  // More runs at once than the machine has hardware threads would only take turns on the cores,
  // each holding its memory.
  const int cores = std::max(1, omp_get_num_procs());
  if (asked > cores)
    std::fprintf(stderr,
                 "warning: reproduce.workers = %d is more than the %d hardware threads of this machine; training %d "
                 "runs at a time\n",
                 asked, cores, cores);
  const int workers = std::max(1, std::min<int>(asked == 0 ? total : std::min(asked, cores), static_cast<int>(runs)));
  if (workers == 1) return {};
  return {workers, asked == 0 ? 1 : std::max(1, total / workers)};
}
std::string describe(const SideBySide& p) {
  return fmt::format("{} at a time on {} thread{} each", p.workers, p.threads, p.threads == 1 ? "" : "s");
}

// How many fine-tuning runs are left and when they should be done, at the pace of the runs this
// process trained so far (a run found finished takes no time and does not count). Thread-safe:
// side by side, the runs end on several threads.
class RunsLeft {
 public:
  RunsLeft(size_t runs, size_t to_train) : runs_(runs), to_train_(to_train) {}
  // After a run ends; `trained`: it had work to do. "2 of 3 fine-tuning runs done, 1 left, ETA 21s".
  std::string done(bool trained) {
    const std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    trained_ += trained;
    const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const size_t left = runs_ - done_, untrained = to_train_ > trained_ ? to_train_ - trained_ : 0;
    std::string line = fmt::format("{} of {} fine-tuning runs done, {} left", done_, runs_, left);
    if (left > 0 && trained_ > 0) line += ", ETA " + format_duration(spent / trained_ * untrained);
    return line;
  }

 private:
  std::mutex mu_;
  const size_t runs_, to_train_;
  size_t done_ = 0, trained_ = 0;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Every list of every stage of the table, and every case in them, checked before the folder is
// written (the stages check again, from the cache, before each of their folders).
void check_table_inputs(const DataSource& data, const std::vector<std::pair<std::string, std::string>>& cells) {
  std::vector<CaseList> lists = {{"pre-training pool", data.splits().pretrain_pool(), false},
                                 {"test set", data.splits().test(), true}};
  for (const auto& [tr, comb] : cells) {
    const std::string set = fmt::format("labelled set {} {}", tr, comb);
    lists.push_back({set, data.splits().labeled(tr, comb), true});
    lists.push_back({"validation list of " + set, data.splits().validation(tr, comb), true});
  }
  data.check_cases(lists);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> reproduce_cells(const Splits& split,
                                                                 const std::vector<std::string>& sets,
                                                                 const std::vector<std::string>& asked,
                                                                 std::vector<std::string>& missing) {
  const auto available = split.combinations();
  const auto refuse = [&](const std::string& tr, const std::string& what) {
    std::string have;
    for (const auto& [t, cs] : available) have += fmt::format("{}{} {}..{}", have.empty() ? "" : ", ", t, cs.front(), cs.back());
    return std::invalid_argument(fmt::format(
        "reproduce.labeled: the split {} has no labelled set {}{} (it has: {}); leave {} out of reproduce.labeled, "
        "or use a split that has it",
        split.path, tr, what, have.empty() ? "none" : have, tr));
  };
  std::vector<std::pair<std::string, std::string>> cells;
  for (const auto& tr : sets) {
    const auto own = available.find(tr);
    if (tr == split.benchmark_name() && own == available.end()) {  // one list, whatever the combination
      cells.emplace_back(tr, asked.empty() ? "c1" : asked.front());
      continue;
    }
    if (asked.empty()) {  // reproduce.combs = all: the split's own combinations of the set
      if (own == available.end()) throw refuse(tr, "");
      for (const auto& comb : own->second) cells.emplace_back(tr, comb);
      continue;
    }
    std::vector<std::string> lacking;
    for (const auto& comb : asked) {
      if (own != available.end() && std::find(own->second.begin(), own->second.end(), comb) != own->second.end())
        cells.emplace_back(tr, comb);
      else
        lacking.push_back(comb);
    }
    if (lacking.size() == asked.size()) throw refuse(tr, fmt::format(" with any of the combinations {}", fmt::join(asked, ",")));
    if (!lacking.empty())
      missing.push_back(fmt::format("the split {} has no combination {} of {}: its column averages {} of {} runs",
                                    split.path, fmt::join(lacking, ","), tr, asked.size() - lacking.size(),
                                    asked.size()));
  }
  return cells;
}

std::string run_reproduce(const Settings& settings, const ReproduceOptions& opt) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto& sets = settings.reproduce.labeled;
  const auto& combs = settings.reproduce.combs;
  const DataSource data(settings);
  std::vector<std::string> missing;
  const auto cells = reproduce_cells(data.splits(), sets, combs, missing);
  check_table_inputs(data, cells);
  for (const auto& m : missing) say("note: " + m);
  const FolderLock lock(opt.out, opt.command_line);  // one reproduce per folder
  const RunTree tree(opt.out);  // its runs record the paths inside it relative: the folder can move
  settings.config.with_absolute_paths().save(opt.out + "/config.json");
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto stage_opt = [&](const std::string& dir, const std::string& init) {
    StageOptions s;
    s.out = dir;
    s.init = init;
    s.existing = Existing::ResumeOrStart;  // a killed earlier attempt continues, a finished one is kept
    s.command_line = opt.command_line;
    s.quiet = opt.quiet;
    return s;
  };
  const std::string g_dir = opt.out + "/pretrain-global", l_dir = opt.out + "/pretrain-local";
  // Every stage is called, finished or not: its run folder checks that it was made with this
  // config (a finished one then returns at once).
  std::printf("[%5.0fs] stage 1: global contrastive pre-training -> %s\n", elapsed(), g_dir.c_str());
  run_pretrain_global(settings, stage_opt(g_dir, ""));
  std::printf("[%5.0fs] stage 2: local contrastive pre-training -> %s\n", elapsed(), l_dir.c_str());
  run_pretrain_local(settings, stage_opt(l_dir, g_dir));
  const std::vector<Row> rows = {{"random", "random init", ""}, {"global", "global only (G)", g_dir},
                                 {"global_local", "global + local (G + L)", l_dir}};
  std::vector<FinetuneJob> jobs;  // in the table's order: set, combination, initialisation
  for (const auto& [tr, comb] : cells)
    for (const auto& row : rows)
      jobs.push_back({&row, tr, comb, fmt::format("{}/finetune/{}/{}_{}", opt.out, row.key, tr, comb)});
  const SideBySide plan = side_by_side(settings, jobs.size());
  const auto has_work = [](const FinetuneJob& job) { return !path_exists(job.dir + "/eval/summary.json"); };
  RunsLeft left(jobs.size(), std::count_if(jobs.begin(), jobs.end(), has_work));
  std::printf("[%5.0fs] stage 3: %zu fine-tuning runs, %s\n", elapsed(), jobs.size(),
              plan.workers > 1 ? describe(plan).c_str() : "one at a time");
  run_side_by_side(
      jobs.size(), plan.workers,
      [&](size_t i) {
        FinetuneJob& job = jobs[i];
        Settings run = settings.with_labeled_set(job.tr, job.comb, "reproduce");
        if (plan.workers > 1) run = run.with_threads(plan.threads, "reproduce.workers");
        const bool work = has_work(job);
        run_finetune(run, stage_opt(job.dir, job.row->init));  // and its evaluation
        job.dice = read_summary_dice(job.dir + "/eval/summary.json");
        say(fmt::format("[{:5.0f}s] {}", elapsed(), left.done(work)));
      },
      [&](size_t i) {
        const FinetuneJob& job = jobs[i];
        return fmt::format("[{:5.0f}s] stage 3 ({}/{}): {}, {} {} -> {}", elapsed(), i + 1, jobs.size(), job.row->label,
                           job.tr, job.comb, job.dir);
      });
  std::map<std::string, std::map<std::string, std::vector<double>>> scores;  // row -> set -> values
  std::string csv = "init,labeled,comb,foreground_mean_dice\n";
  for (size_t first = 0; first < jobs.size(); first += rows.size()) {
    std::vector<Series> validation;  // the three initialisations' validation curves, for one picture
    for (size_t i = first; i < first + rows.size(); ++i) {
      const FinetuneJob& job = jobs[i];
      scores[job.row->key][job.tr].push_back(job.dice);
      csv += fmt::format("{},{},{},{:.6f}\n", job.row->key, job.tr, job.comb, job.dice);
      validation.push_back(read_validation_curve(job.dir + "/log.txt"));
      validation.back().name = job.row->label;
    }
    make_dirs(opt.out + "/pictures");
    write_curve_png(fmt::format("{}/pictures/validation_{}_{}.png", opt.out, jobs[first].tr, jobs[first].comb),
                    validation, {fmt::format("Validation foreground Dice, {} {}", jobs[first].tr, jobs[first].comb),
                                 "step", "Dice"});
  }
  // The table: rows = initialisations, columns = labelled sets, mean +- std over combinations.
  std::string md = fmt::format("# {} results ({} mode)\n\nMean foreground Dice on the test cases; mean ± standard "
                               "deviation over the combinations of each labelled set.\n\n| initialisation |",
                               settings.data.dataset, compat_name(settings.run.compat));
  for (const auto& tr : sets) md += fmt::format(" {} |", tr);
  md += "\n|---|";
  for (size_t i = 0; i < sets.size(); ++i) md += "---|";
  md += "\n";
  for (const auto& row : rows) {
    md += "| " + row.label + " |";
    for (const auto& tr : sets) {
      const auto& v = scores[row.key][tr];
      if (v.empty()) {
        md += " – |";
        continue;
      }
      double mean = 0, var = 0;
      for (double x : v) mean += x;
      mean /= v.size();
      for (double x : v) var += (x - mean) * (x - mean);
      const double sd = v.size() > 1 ? std::sqrt(var / (v.size() - 1)) : 0.0;
      md += fmt::format(" {:.3f} ± {:.3f} (n={}) |", mean, sd, v.size());
    }
    md += "\n";
  }
  for (const auto& m : missing) md += "\nNote: " + m + ".\n";
  md += fmt::format("\nRuns: {}/finetune/<init>/<set>_<comb>/ (each with eval/summary.json and eval/pictures/).\n",
                    opt.out);
  // A table is a measurement of one machine: floating-point results differ between CPUs.
  md += fmt::format("Machine: {}, {} threads{}; this invocation took {:.1f} minutes.\n",
                    device_description(checked_device(settings)), omp_get_max_threads(),
                    plan.workers > 1 ? " (fine-tuning runs " + describe(plan) + ")" : "", elapsed() / 60);
  write_file_atomic(opt.out + "/results.md", md);
  write_file_atomic(opt.out + "/results.csv", csv);
  std::printf("[%5.0fs] done: %s/results.md\n", elapsed(), opt.out.c_str());
  return md;
}

}  // namespace cs
