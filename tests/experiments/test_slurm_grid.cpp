// reproduce --executor slurm: the scripts it writes (--dry-run, no Slurm needed), its misuse, and,
// on a private single-node Slurm started by scripts/slurm-local.sh with 2 fake GPUs, a tiny grid
// that ends with the table of a local run, a killed task that cancels the table job and resumes on
// resubmission, and a task warned before its time limit that checkpoints and requeues itself.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support/io_test_util.h"
#include "support/tiny_split.h"

namespace {

namespace fs = std::filesystem;
using cs::testing_io::read_text;
using cs::testing_io::TempDir;
using cs::testing_io::write_text;

struct Result {
  int status;
  std::string output;  // stdout and stderr
};

Result sh(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// contraseg (or the killable build, tests/tools/killable_contraseg.cpp) with `env` before it.
Result run(const std::string& args, const std::string& env = "", const std::string& binary = CONTRASEG_BINARY) {
  return sh(env + " '" + binary + "' " + args);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A phantom dataset with one labelled set and a config of a few steps: rows random and G^D, one
// thread per run, a checkpoint every step.
struct TinyGrid {
  explicit TinyGrid(const TempDir& t) : data(t / "data"), config(t / "tiny.json") {
    const Result r = run("synth --out " + data + " --patients 8 --seed 3");
    EXPECT_EQ(r.status, 0) << r.output;
    const nlohmann::json split = cs::testing_io::tiny_split();
    write_text(data + "/splits.json", split.dump(2));
    write_text(config, R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "log_every": 1,
      "checkpoint_every": 1, "threads": 1, "global": {"iterations": 3, "volumes": 2, "knn_every": 3},
      "finetune": {"iterations": 8, "batch": 4, "val_every": 3, "bn_batches": 2},
      "reproduce": {"labeled": "tr1", "combs": "c1", "rows": "random,gd", "workers": 1}})");
  }
  std::string args(const std::string& out) const { return "reproduce --config " + config + " --data " + data + " --out " + out; }
  std::string data, config;
};

TEST(SlurmScripts, DryRunWritesEveryScriptAndSubmitsNothing) {
  TempDir t;
  const TinyGrid grid(t);
  const std::string out = t / "grid";
  const Result r = run(grid.args(out) +
                       " --executor slurm --dry-run --partition gpu --account lab --time 0-04:00:00 --gpus-per-task 1 "
                       "--cpus-per-task 4 --array-limit 3 --sbatch-line --qos=normal");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string dir = out + "/slurm/results";
  const std::string finetune = read_text(dir + "/finetune.sbatch"), pretrain = read_text(dir + "/pretrain_gd.sbatch"),
                    table = read_text(dir + "/table.sbatch");
  for (const char* line : {"#SBATCH --array=0-1%3\n", "#SBATCH --gres=gpu:1\n", "#SBATCH --partition=gpu\n",
                           "#SBATCH --account=lab\n", "#SBATCH --time=0-04:00:00\n", "#SBATCH --cpus-per-task=4\n",
                           "#SBATCH --qos=normal\n", "#SBATCH --kill-on-invalid-dep=yes\n",
                           "#SBATCH --signal=B:USR1@120\n", "#SBATCH --requeue\n", "--task \"$task\""})
    EXPECT_TRUE(contains(finetune, line)) << line << "\n" << finetune;
  EXPECT_TRUE(contains(pretrain, "task=pretrain:gd\n")) << pretrain;
  EXPECT_TRUE(contains(pretrain, "#SBATCH --gres=gpu:1\n")) << pretrain;
  EXPECT_FALSE(contains(table, "--gres")) << table;  // the table needs no GPU
  for (const char* s : {"finetune.sbatch", "pretrain_gd.sbatch", "table.sbatch"})
    EXPECT_EQ(sh("bash -n " + dir + "/" + s).status, 0) << s;
  // The order to submit them in, with their dependencies.
  EXPECT_TRUE(contains(r.output, "sbatch --parsable --dependency=afterok:$pretrain_gd")) << r.output;
  EXPECT_TRUE(contains(r.output, "sbatch --parsable --dependency=afterok:$finetune")) << r.output;
  const auto manifest = cs::testing_io::load_json(dir + "/manifest.json");
  ASSERT_EQ(manifest["tasks"].size(), 4u);  // pretrain:gd, finetune:0, finetune:1, table
  EXPECT_EQ(manifest["tasks"][1]["id"], "finetune:0");
  EXPECT_FALSE(fs::exists(out + "/pretrain"));  // nothing trained
  EXPECT_FALSE(fs::exists(out + "/finetune"));
  const Result status = run("reproduce --out " + out + " --status");
  EXPECT_TRUE(contains(status.output, "not submitted")) << status.output;
}

TEST(SlurmScripts, MisuseIsAClearErrorThatCreatesNothing) {
  TempDir t;
  const TinyGrid grid(t);
  const std::string out = t / "never";
  struct Case {
    std::string args, env, message;
    int status;
  };
  const Case cases[] = {
      {" --executor slurm --dry-run --partition 'gpu;rm'", "", "--partition 'gpu;rm'", 1},
      {" --executor slurm --dry-run --time 4h", "", "--time '4h'", 1},
      {" --executor slurm --dry-run --cpus-per-task 0", "", "--cpus-per-task", 2},
      {" --executor slurm --dry-run --array-limit -1", "", "--array-limit", 2},
      {" --executor slurm --dry-run --gpus-per-task two", "", "--gpus-per-task", 2},
      {" --executor slurm --dry-run --account 'lab x'", "", "--account 'lab x'", 1},
      {" --dry-run", "", "--dry-run is an option of --executor slurm", 2},
      {" --wait", "", "--wait is an option of --executor slurm", 2},
      {" --partition gpu", "", "--partition is an option of --executor slurm", 2},
      {" --executor slurm", "PATH=/nonexistent", "sbatch not found", 1},
      {" --task finetune:7", "", "--task finetune:7: no such task of this grid", 1},
      {" --task table", "", "the table needs every fine-tuning run evaluated", 1},
      {" --gpus 0,1", "", "--gpus trains on GPUs, but device = cpu", 1},
      {" --gpus 0,0", "", "--gpus 0,0: give the GPUs as numbers, each once", 1},
      {" --gpus 1 --executor slurm", "", "--gpus is an option of the local executor", 2},
      {" --task table --gpus 0", "", "--task runs one task here", 2},
      {" --status --dry-run", "", "it takes only --out and --wait, not --", 2},
  };
  for (const auto& c : cases) {
    const Result r = run(grid.args(out) + c.args, c.env);
    EXPECT_EQ(r.status, c.status) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, c.message)) << c.args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(out + "/slurm")) << c.args;
    EXPECT_FALSE(fs::exists(out + "/finetune")) << c.args;
  }
  const Result status = run("reproduce --out " + t.path() + " --status");
  EXPECT_EQ(status.status, 1);
  EXPECT_TRUE(contains(status.output, "no grid was submitted into this folder")) << status.output;
}

// A private Slurm in `dir` for the life of the object (scripts/slurm-local.sh).
class PrivateSlurm {
 public:
  explicit PrivateSlurm(const std::string& dir) : dir_(dir) {
    const Result r = sh(script() + " start " + dir_ + " --gpus 2 --cpus 2");
    started_ = r.status == 0;
    output_ = r.output;
  }
  ~PrivateSlurm() { sh(script() + " stop " + dir_); }
  bool started() const { return started_; }
  const std::string& output() const { return output_; }
  std::string env() const { return "SLURM_CONF=" + dir_ + "/slurm.conf"; }

 private:
  static std::string script() { return std::string("bash ") + CONTRASEG_SOURCE_DIR + "/scripts/slurm-local.sh"; }
  std::string dir_, output_;
  bool started_ = false;
};

TEST(SlurmGrid, SameTableAsLocalAKilledTaskCancelsTheTableAndResumesOnResubmission) {
  if (geteuid() != 0) GTEST_SKIP() << "a private Slurm needs root (scripts/slurm-local.sh)";
  for (const char* program : {"slurmctld", "slurmd", "munged", "sbatch"})
    if (sh(std::string("command -v ") + program).status != 0)
      GTEST_SKIP() << program << " is not installed: scripts/install-deps.sh installs Slurm and munge";
  TempDir t;
  const TinyGrid grid(t);
  const PrivateSlurm slurm(t / "cluster");
  ASSERT_TRUE(slurm.started()) << slurm.output();
  const std::string local = t / "local", out = t / "grid";
  const Result l = run(grid.args(local));
  ASSERT_EQ(l.status, 0) << l.output;

  // Every fine-tuning task killed after step 4 (exit 86): the table job is cancelled, and the
  // report names each failed task.
  const std::string slurm_args = grid.args(out) + " --executor slurm --gpus-per-task 1 --array-limit 2";
  const Result killed = run(slurm_args, slurm.env() + " CONTRASEG_KILL_AFTER_STEP=4", CONTRASEG_KILLABLE_BINARY);
  ASSERT_EQ(killed.status, 0) << killed.output;
  const Result again = run(slurm_args, slurm.env());  // while its jobs are queued
  EXPECT_EQ(again.status, 1);
  EXPECT_TRUE(contains(again.output, "of an earlier submission of this table are still queued or running"))
      << again.output;
  const Result report = run("reproduce --out " + out + " --status --wait", slurm.env());
  EXPECT_EQ(report.status, 1) << report.output;
  for (const char* part : {"pretrain:gd            done", "finetune:0             FAILED", "exit 86",
                           "finetune:1 (G^D, tr1 c1) failed with exit status 86", "table (the table results) did not run",
                           "CANCELLED, DependencyNeverSatisfied", "1 of 4 tasks done"})
    EXPECT_TRUE(contains(report.output, part)) << part << "\n" << report.output;
  EXPECT_FALSE(fs::exists(out + "/results.csv"));

  // Resubmitted: the killed runs resume from their step-4 checkpoints; warned after step 5 as
  // before a time limit, each saves a checkpoint after step 6 and requeues itself, then ends.
  const Result resumed =
      run(slurm_args + " --wait", slurm.env() + " CONTRASEG_SIGNAL_AFTER_STEP=5", CONTRASEG_KILLABLE_BINARY);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "submitted 0 pre-training jobs")) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "4 of 4 tasks done")) << resumed.output;
  for (const char* row : {"random", "gd"}) {
    const std::string run_dir = out + "/finetune/" + row + "/tr1_c1";
    const std::string log = read_text(run_dir + "/log.txt");
    for (const char* line : {"resumed finetune at step 4 ", "preempted: SIGUSR1 after step 6/8",
                             "resumed finetune at step 6 "})
      EXPECT_TRUE(contains(log, line)) << run_dir << ": " << line << "\n" << log;
    const auto env = cs::testing_io::load_json(run_dir + "/env.json");
    ASSERT_TRUE(env.contains("CUDA_VISIBLE_DEVICES")) << env.dump();  // a fake GPU of the node
    EXPECT_TRUE(env["CUDA_VISIBLE_DEVICES"] == "0" || env["CUDA_VISIBLE_DEVICES"] == "1") << env.dump();
    EXPECT_TRUE(env.contains("SLURM_JOB_ID")) << env.dump();
  }
  // Bit for bit the table of the local run (CPU, one thread per run).
  const std::string csv = read_text(out + "/results.csv");
  EXPECT_FALSE(csv.empty());
  EXPECT_EQ(csv, read_text(local + "/results.csv"));
}

}  // namespace
