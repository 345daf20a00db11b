#include "io/paths.h"
#include "experiments/pipeline/reproduce.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "autograd/atomic_file.h"
#include "autograd/device.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/data.h"
#include "experiments/evaluation/pictures.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/evaluate.h"
#include "experiments/pipeline/parallel_runs.h"
#include "experiments/pipeline/results_table.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"

namespace cs {
namespace {

// One fine-tuning run of the table.
struct FinetuneJob {
  const TableRow* row;
  std::string tr, comb, dir;
};

std::string pretrain_dir(const std::string& out, const std::string& name) { return out + "/pretrain/" + name; }

// A fine-tuning run is finished once its evaluation is written (whole or not at all).
bool evaluated(const std::string& run_dir) { return path_exists(run_dir + "/eval/summary.json"); }

const char* kind_name(PretrainKind k) {
  return k == PretrainKind::Global ? "global" : k == PretrainKind::Local ? "local" : "pretext-task";
}

// The combinations behind each column, against those the split defines: the table says when it
// averages fewer than the released protocol.
std::string protocol_note(const Splits& split, const std::vector<std::string>& sets,
                          const std::vector<std::pair<std::string, std::string>>& cells) {
  const auto defined = split.combinations();
  std::vector<std::string> parts;
  bool fewer = false;
  for (const auto& tr : sets) {
    std::vector<std::string> used;
    for (const auto& [t, comb] : cells)
      if (t == tr) used.push_back(comb);
    const auto own = defined.find(tr);
    const size_t all = own == defined.end() ? used.size() : own->second.size();
    fewer = fewer || used.size() < all;
    parts.push_back(fmt::format("{} {} ({} of the {} the split defines)", tr, fmt::join(used, ","), used.size(), all));
  }
  std::vector<std::string> left_out;  // sets the split defines that the table does not run
  for (const auto& [tr, combs] : defined)
    if (std::find(sets.begin(), sets.end(), tr) == sets.end())
      left_out.push_back(fmt::format("{} ({} combinations)", tr, combs.size()));
  return fmt::format("Combinations: {}.{}{}", fmt::join(parts, "; "),
                     fewer ? " Fewer than the released protocol (every combination the split defines: reproduce.combs "
                             "= all), so a column's mean and sd are not the paper's."
                           : "",
                     left_out.empty() ? ""
                                      : fmt::format(" The split also defines {}, not in this table (reproduce.labeled).",
                                                    fmt::join(left_out, ", ")));
}

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

std::string results_stem(const TablePlan& table) {
  return table.table.empty() ? "results" : "results-" + table.table;
}

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

namespace {

// A reproduce folder's plan: the table's cells, and its fine-tuning runs in the table's order
// (set, combination, initialisation), each with its folder.
struct Grid {
  Grid(const Settings& settings, const std::string& out) : data(settings), table(settings.reproduce.table) {
    cells = reproduce_cells(data.splits(), settings.reproduce.labeled, settings.reproduce.combs, missing);
    check_table_inputs(data, cells);
    for (int c = 1; c < data.num_classes(); ++c) classes.push_back(class_name(data.params(), c));
    for (const auto& [tr, comb] : cells)
      for (const auto& row : table.rows)
        jobs.push_back({&row, tr, comb, fmt::format("{}/finetune/{}/{}_{}", out, row.key, tr, comb)});
  }
  const DataSource data;
  const TablePlan& table;
  std::vector<std::string> missing;  // asked combinations the split lacks
  std::vector<std::pair<std::string, std::string>> cells;
  std::vector<std::string> classes;  // the foreground classes' names, as the evaluations write them
  std::vector<FinetuneJob> jobs;
};

StageOptions stage_options(const ReproduceOptions& opt, const std::string& dir, const std::string& init) {
  StageOptions s;
  s.out = dir;
  s.init = init;
  s.existing = Existing::ResumeOrStart;  // a killed earlier attempt continues, a finished one is kept
  s.command_line = opt.command_line;
  s.quiet = opt.quiet;
  return s;
}

// One pre-training of the table; its stage is called finished or not: its run folder checks that
// it was made with this config (a finished one returns at once).
void pretrain(const Settings& settings, const ReproduceOptions& opt, const PretrainRun& p) {
  const std::string dir = pretrain_dir(opt.out, p.name), after = p.after.empty() ? "" : pretrain_dir(opt.out, p.after);
  const Settings run = settings.with_pretraining(p, "reproduce.rows");
  if (p.kind == PretrainKind::Global) run_pretrain_global(run, stage_options(opt, dir, ""));
  if (p.kind == PretrainKind::Local) run_pretrain_local(run, stage_options(opt, dir, after));
  if (p.kind == PretrainKind::Pretext) run_pretrain_pretext(run, stage_options(opt, dir, ""));
}

// Fine-tuning run `job` (and its evaluation); threads > 0: on that many threads.
void finetune(const Settings& settings, const ReproduceOptions& opt, const FinetuneJob& job, int threads) {
  Settings run = settings.with_labeled_set(job.tr, job.comb, "reproduce");
  if (threads > 0) run = run.with_threads(threads, "reproduce.workers");
  run_finetune(run, stage_options(opt, job.dir, job.row->init.empty() ? "" : pretrain_dir(opt.out, job.row->init)));
}

// The table from the runs' evaluations: OUT/<results_stem>.md and .csv, and the rows' validation
// curves in OUT/pictures[/PRESET]. `how`: the footer's line on where and how the runs trained.
std::string write_table(const Settings& settings, const ReproduceOptions& opt, const Grid& grid,
                        const std::string& how) {
  std::vector<std::string> unfinished;
  for (const auto& job : grid.jobs)
    if (!evaluated(job.dir)) unfinished.push_back(job.dir);
  if (!unfinished.empty())
    throw std::runtime_error(fmt::format("the table needs every fine-tuning run evaluated; {} of {} are not: {}",
                                         unfinished.size(), grid.jobs.size(), fmt::join(unfinished, ", ")));
  const TablePlan& table = grid.table;
  ResultsTable results;
  results.title = fmt::format("{} results ({} mode){}", settings.data.dataset, compat_name(settings.run.compat),
                              table.table.empty() ? "" : ", table " + table.table);
  results.sets = settings.reproduce.labeled;
  results.classes = grid.classes;
  results.plan = &table;
  const size_t per_cell = table.rows.size();
  for (size_t first = 0; first < grid.jobs.size(); first += per_cell) {
    std::vector<Series> validation;  // the rows' validation curves, for one picture per cell
    for (size_t i = first; i < first + per_cell; ++i) {
      const FinetuneJob& job = grid.jobs[i];
      RunScore score = read_run_score(job.dir + "/eval/summary.json", grid.classes);
      score.row = job.row->key;
      score.tr = job.tr;
      score.comb = job.comb;
      results.runs.push_back(score);
      validation.push_back(read_validation_curve(job.dir + "/log.txt"));
      validation.back().name = job.row->label;
    }
    // A preset's pictures in their own folder: the tables of one folder do not overwrite each other's.
    const std::string pictures = opt.out + "/pictures" + (table.table.empty() ? "" : "/" + table.table);
    make_dirs(pictures);
    const FinetuneJob& job = grid.jobs[first];
    write_curve_png(fmt::format("{}/validation_{}_{}.png", pictures, job.tr, job.comb), validation,
                    {fmt::format("Validation foreground Dice, {} {}", job.tr, job.comb), "step", "Dice"});
  }
  for (const auto& p : table.pretrain) {
    const std::string record = pretrain_dir(opt.out, p.name) + "/probe.json";
    if (path_exists(record)) results.probes.push_back({p.name, read_probe_record(record)});
  }
  results.notes.push_back(protocol_note(grid.data.splits(), settings.reproduce.labeled, grid.cells));
  for (const auto& m : grid.missing) results.notes.push_back("Note: " + m + ".");
  results.footer = fmt::format(
      "Runs: {0}/pretrain/<pre-training>/ and {0}/finetune/<row>/<set>_<comb>/ (each with eval/summary.json and "
      "eval/pictures/).\n{1}\n",
      opt.out, how);
  const std::string md = results_markdown(results), stem = opt.out + "/" + results_stem(table);
  write_file_atomic(stem + ".md", md);
  write_file_atomic(stem + ".csv", results_csv(results, settings.data.dataset));
  return md;
}

}  // namespace

bool task_finished(const GridTask& t) {
  if (t.id.rfind("pretrain:", 0) == 0) return path_exists(checkpoint_path(t.dir, "final"));
  if (t.id.rfind("finetune:", 0) == 0) return evaluated(t.dir);
  return path_exists(t.dir);
}

std::string task_file_name(const std::string& id) {
  std::string s = id;
  std::replace(s.begin(), s.end(), ':', '_');
  return s;
}

std::vector<GridTask> reproduce_tasks(const Settings& settings, const std::string& out) {
  const Grid grid(settings, out);
  std::vector<GridTask> tasks;
  for (const auto& p : grid.table.pretrain)
    tasks.push_back({"pretrain:" + p.name, fmt::format("pre-training {} ({})", p.name, kind_name(p.kind)),
                     pretrain_dir(out, p.name), p.after.empty() ? std::vector<std::string>{}
                                                                : std::vector<std::string>{"pretrain:" + p.after}});
  std::vector<std::string> all;
  for (size_t i = 0; i < grid.jobs.size(); ++i) {
    const FinetuneJob& job = grid.jobs[i];
    std::vector<std::string> after;
    for (const PretrainRun* p : grid.table.chain(*job.row)) after.push_back("pretrain:" + p->name);
    tasks.push_back({fmt::format("finetune:{}", i), fmt::format("{}, {} {}", job.row->label, job.tr, job.comb),
                     job.dir, after});
    all.push_back(tasks.back().id);
  }
  tasks.push_back({"table", "the table " + results_stem(grid.table), out + "/" + results_stem(grid.table) + ".md", all});
  return tasks;
}

void run_reproduce_task(const Settings& settings, const ReproduceOptions& opt, const std::string& task) {
  const Grid grid(settings, opt.out);
  const RunTree tree(opt.out);
  const auto refuse = [&] {
    return std::invalid_argument(fmt::format(
        "--task {}: no such task of this grid; its tasks are pretrain:NAME ({}), finetune:0..{} and table", task,
        fmt::join([&] {
          std::vector<std::string> names;
          for (const auto& p : grid.table.pretrain) names.push_back(p.name);
          return names;
        }(), ", "),
        grid.jobs.size() - 1));
  };
  if (task == "table") {
    write_table(settings, opt, grid, "Runs trained as separate jobs; each run's machine is in its env.json.");
    std::printf("table: %s/%s.md\n", opt.out.c_str(), results_stem(grid.table).c_str());
  } else if (task.rfind("pretrain:", 0) == 0) {
    const auto p = std::find_if(grid.table.pretrain.begin(), grid.table.pretrain.end(),
                                [&](const PretrainRun& r) { return "pretrain:" + r.name == task; });
    if (p == grid.table.pretrain.end()) throw refuse();
    pretrain(settings, opt, *p);
  } else if (task.rfind("finetune:", 0) == 0) {
    const std::string index = task.substr(9);
    if (index.empty() || index.size() > 6 || index.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(index) >= grid.jobs.size())
      throw refuse();
    finetune(settings, opt, grid.jobs[std::stoul(index)], 0);
  } else {
    throw refuse();
  }
}

std::string run_reproduce(const Settings& settings, const ReproduceOptions& opt) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Grid grid(settings, opt.out);
  for (const auto& m : grid.missing) say("note: " + m);
  const FolderLock lock(opt.out, opt.command_line);  // one reproduce per folder
  const RunTree tree(opt.out);  // its runs record the paths inside it relative: the folder can move
  settings.config.with_absolute_paths().save(opt.out + "/config.json");
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  const TablePlan& table = grid.table;
  // Every pre-training once, each after the one it starts from.
  for (size_t i = 0; i < table.pretrain.size(); ++i) {
    const PretrainRun& p = table.pretrain[i];
    std::printf("[%5.0fs] pre-training %zu/%zu: %s (%s) -> %s\n", elapsed(), i + 1, table.pretrain.size(),
                p.name.c_str(), kind_name(p.kind), pretrain_dir(opt.out, p.name).c_str());
    pretrain(settings, opt, p);
  }
  auto& jobs = grid.jobs;
  const SideBySide plan = side_by_side(settings, jobs.size());
  const auto has_work = [](const FinetuneJob& job) { return !evaluated(job.dir); };
  RunsLeft left(jobs.size(), std::count_if(jobs.begin(), jobs.end(), has_work));
  std::printf("[%5.0fs] stage 3: %zu fine-tuning runs, %s (%zu rows x %zu labelled sets)\n", elapsed(), jobs.size(),
              plan.workers > 1 ? describe(plan).c_str() : "one at a time", table.rows.size(), grid.cells.size());
  run_side_by_side(
      jobs.size(), plan.workers,
      [&](size_t i) {
        const bool work = has_work(jobs[i]);
        finetune(settings, opt, jobs[i], plan.workers > 1 ? plan.threads : 0);
        say(fmt::format("[{:5.0f}s] {}", elapsed(), left.done(work)));
      },
      [&](size_t i) {
        const FinetuneJob& job = jobs[i];
        return fmt::format("[{:5.0f}s] stage 3 ({}/{}): {}, {} {} -> {}", elapsed(), i + 1, jobs.size(),
                           job.row->label, job.tr, job.comb, job.dir);
      });
  // A table is a measurement of one machine: floating-point results differ between CPUs.
  const std::string md = write_table(
      settings, opt, grid,
      fmt::format("Machine: {}, {} thread{}{}; this invocation took {:.1f} minutes.",
                  device_description(checked_device(settings)), omp_get_max_threads(),
                  omp_get_max_threads() == 1 ? "" : "s",
                  plan.workers > 1 ? " (fine-tuning runs " + describe(plan) + ")" : "", elapsed() / 60));
  std::printf("[%5.0fs] done: %s/%s.md\n", elapsed(), opt.out.c_str(), results_stem(table).c_str());
  return md;
}

}  // namespace cs
