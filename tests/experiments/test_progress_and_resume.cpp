// No silent wrong answer, through the `contraseg` command on a tiny phantom dataset: more threads
// than the machine has are capped with a warning; a resume on other arithmetic says so; --resume
// on a folder without a run is an error; a moved reproduce or demo folder resumes; every option an
// error message suggests exists in the command that printed it; step lines say k/N and an ETA.
#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "experiments/evaluation/pictures.h"
#include "support/io_test_util.h"
#include "support/tiny_split.h"

namespace {

using cs::testing_io::files_of;
using cs::testing_io::load_json;
using cs::testing_io::read_text;
using cs::testing_io::run_contraseg;
using cs::testing_io::RunResult;
using cs::testing_io::stage_files_of;
using cs::testing_io::TempDir;
namespace fs = std::filesystem;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

int hardware_threads() {  // as OpenMP counts them: the CPUs this process may run on
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

// The options a command accepts, as `contraseg help --options COMMAND` lists them.
std::set<std::string> options_of(const std::string& command) {
  const RunResult r = run_contraseg("help --options " + command);
  EXPECT_EQ(r.status, 0) << r.err;
  std::set<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) names.insert(line);
  return names;
}

// Every "--option" that `text` (what `command` printed) names must be one `command` accepts.
void expect_options_exist(const std::string& command, const std::string& text) {
  const std::set<std::string> accepted = options_of(command);
  const std::regex option("--[a-z][a-z0-9-]*");
  for (std::sregex_iterator it(text.begin(), text.end(), option), end; it != end; ++it)
    EXPECT_TRUE(accepted.count(it->str())) << command << " suggests " << it->str() << ", which it does not take:\n"
                                           << text;
}

// An environment variable for the commands this test runs, while alive.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  const char* name_;
};

// One phantom dataset and tiny config shared by the tests of this file.
class ProgressAndResume : public ::testing::Test {
 protected:
  static TempDir* tmp;
  static std::string data, config, args;  // args: --config and --data
  // One reproduce of the tiny table, asked for 1024 threads, shared by the tests that read it.
  static std::string rep, rep_args;
  static RunResult rep_result;
  static void SetUpTestSuite() {
    tmp = new TempDir;
    data = *tmp / "data";
    const RunResult r = run_contraseg("synth --out " + data + " --patients 8 --seed 3");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json s = cs::testing_io::tiny_split();
    cs::testing_io::write_text(data + "/splits.json", s.dump(2));
    config = *tmp / "tiny.json";
    cs::testing_io::write_text(config, R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "log_every": 1,
      "checkpoint_every": 2, "threads": 1,
      "global": {"iterations": 3, "volumes": 2, "knn_every": 0},
      "local": {"iterations": 2, "batch": 2, "retrieval_every": 0},
      "pretext": {"iterations": 2, "batch": 4},
      "finetune": {"iterations": 6, "batch": 4, "val_every": 3, "bn_batches": 2},
      "reproduce": {"labeled": "tr1", "combs": "c1"}})");
    args = " --config " + config + " --data " + data;
    rep = *tmp / "rep";
    rep_args = "reproduce" + args + " --set threads=1024 --out ";
    rep_result = run_contraseg(rep_args + rep);
  }
  static void TearDownTestSuite() { delete tmp; }
};
TempDir* ProgressAndResume::tmp = nullptr;
std::string ProgressAndResume::data, ProgressAndResume::config, ProgressAndResume::args, ProgressAndResume::rep,
    ProgressAndResume::rep_args;
RunResult ProgressAndResume::rep_result;

// 1024 threads on a few cores did not finish in a minute: the value is capped at the machine's
// hardware threads, with one warning naming the key and both values, however many stages run.
TEST_F(ProgressAndResume, ThreadsAboveTheCoresAreCappedWithOneWarning) {
  ASSERT_EQ(rep_result.status, 0) << rep_result.out << rep_result.err;
  const int cores = hardware_threads();
  const std::string warning =
      fmt::format("warning: threads = 1024 is more than the {} hardware threads of this machine; using {}\n", cores,
                  cores);
  EXPECT_EQ(count_of(rep_result.err, warning), 1u) << rep_result.err;  // five stages, one warning
  EXPECT_EQ(load_json(rep + "/pretrain/gd/env.json")["threads"], cores);
  EXPECT_EQ(load_json(rep + "/finetune/random/tr1_c1/env.json")["threads"], cores);
}

// A run resumed on another thread count goes on, but says that it will not end with the weights
// of an uninterrupted run; resumed on the same one, it says nothing.
TEST_F(ProgressAndResume, AResumeOnOtherThreadsWarns) {
  if (hardware_threads() < 2) GTEST_SKIP() << "needs 2 hardware threads";
  const std::string out = *tmp / "resume_threads";
  const std::string ft = "finetune" + args + " --quiet --out " + out;
  {
    const ScopedEnv kill("CONTRASEG_KILL_AFTER_STEP", "3");
    ASSERT_EQ(run_contraseg(ft, CONTRASEG_KILLABLE_BINARY).status, 86);
  }
  {
    const ScopedEnv kill("CONTRASEG_KILL_AFTER_STEP", "5");  // resumed at step 3 on the same thread count
    const RunResult r = run_contraseg(ft + " --resume", CONTRASEG_KILLABLE_BINARY);
    ASSERT_EQ(r.status, 86) << r.out << r.err;
    EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  }
  const RunResult r = run_contraseg(ft + " --resume --set threads=2");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("warning: " + out + ": resuming with other arithmetic than the run had (its env.json):\n"
                       "  threads: 1 -> 2\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("will not be bit-identical to those of an uninterrupted run"), std::string::npos) << r.err;
  // ... and threads is still allowed to change: it changes the rounding, not what is computed.
  EXPECT_NE(r.out.find("do not affect the weights:\n  threads: 1 -> 2"), std::string::npos) << r.out;
}

// A misspelled --resume folder used to start a fresh run there; now it is an error that names the
// folder and the fix, and creates nothing (not even the folder or a lock file in an empty one).
TEST_F(ProgressAndResume, ResumeOnAFolderWithoutARunIsAnError) {
  const std::string typo = *tmp / "no_such_run", empty = *tmp / "empty_folder";
  fs::create_directories(empty);
  for (const std::string command : {"finetune", "pretrain-global", "pretrain-pretext"})
    for (const std::string& out : {typo, empty}) {
      const RunResult r = run_contraseg(command + args + " --quiet --resume --out " + out);
      EXPECT_EQ(r.status, 1) << r.out;
      EXPECT_NE(r.err.find("no run in " + out + " to resume"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("drop --resume to start one"), std::string::npos) << r.err;
      expect_options_exist(command, r.err);
    }
  EXPECT_FALSE(fs::exists(typo));
  EXPECT_TRUE(fs::is_empty(empty));
}

// A reproduce folder records the paths inside it relative to its runs: moved, it resumes where it
// was (everything finished: nothing is trained or rewritten), instead of refusing every stage.
TEST_F(ProgressAndResume, AMovedReproduceFolderResumes) {
  ASSERT_EQ(rep_result.status, 0) << rep_result.out << rep_result.err;
  EXPECT_EQ(load_json(rep + "/pretrain/gd+lr@l3/config.json")["init"], "../gd");
  EXPECT_EQ(load_json(rep + "/finetune/gd+lr@l3/tr1_c1/config.json")["init"], "../../../pretrain/gd+lr@l3");
  EXPECT_EQ(load_json(rep + "/pretrain/gd+lr@l3/config.json")["data"], fs::canonical(data).string());  // outside it
  const std::string copy = *tmp / "rep_copy", moved = *tmp / "elsewhere/rep_moved";
  fs::copy(rep, copy, fs::copy_options::recursive);
  fs::create_directories(*tmp / "elsewhere");
  fs::rename(copy, moved);
  const auto files = stage_files_of(moved);
  RunResult r = run_contraseg(rep_args + moved);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  for (const auto& [stage, folder] : std::map<std::string, std::string>{
           {"pretrain-global", "pretrain/gd"}, {"pretrain-local", "pretrain/gd+lr@l3"}, {"finetune", "finetune/"}})
    EXPECT_NE(r.out.find(fmt::format("{}: {}/{}", stage, moved, folder)), std::string::npos) << r.out;
  EXPECT_EQ(count_of(r.out, "is finished; nothing to train"), 5u) << r.out;
  EXPECT_EQ(stage_files_of(moved), files);  // nothing trained, nothing rewritten
  // evaluate reads a moved run's relative paths in its folder.
  r = run_contraseg("evaluate --run " + moved + "/finetune/gd/tr1_c1 --out " + *tmp / "moved_eval");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

// demo's data and split live in its folder: they move with it.
TEST_F(ProgressAndResume, AMovedDemoFolderResumes) {
  const std::string before = *tmp / "demo_here", after = *tmp / "demo_there";
  const std::string tiny =
      " --patients 8 --set image_size=32 --set target_res=8 --set log_every=1 --set global.iterations=2 "
      "--set global.volumes=2 --set global.knn_every=0 --set local.iterations=2 --set local.batch=2 "
      "--set local.retrieval_every=0 --set finetune.iterations=2 --set finetune.batch=2 --set finetune.val_every=2 "
      "--set finetune.bn_batches=1 --set reproduce.labeled=tr1 --set reproduce.combs=c1";
  RunResult r = run_contraseg("demo --out " + before + tiny);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(load_json(before + "/pretrain/gd/config.json")["data"], "../../data");
  fs::rename(before, after);
  const auto files = files_of(after + "/finetune");
  r = run_contraseg("demo --out " + after + tiny);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(count_of(r.out, "is finished; nothing to train"), 5u) << r.out;
  EXPECT_EQ(files_of(after + "/finetune"), files);
  // A changed weight key is refused, and the message suggests only what demo takes.
  r = run_contraseg("demo --out " + after + tiny + " --set lr=0.01");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.err.find("lr: 0.001 -> 0.01"), std::string::npos) << r.err;
  expect_options_exist("demo", r.err);
}

// The errors that suggest an option, from every command that can raise them: each suggested
// option is one that command takes (reproduce has no --resume or --overwrite).
TEST_F(ProgressAndResume, EverySuggestedOptionExistsInItsCommand) {
  const std::string g = *tmp / "opt_g", l = *tmp / "opt_l", f = *tmp / "opt_f", p = *tmp / "opt_p";
  const std::map<std::string, std::string> stages = {
      {"pretrain-global", "pretrain-global" + args + " --quiet --out " + g},
      {"pretrain-local", "pretrain-local" + args + " --quiet --init " + g + " --out " + l},
      {"pretrain-pretext", "pretrain-pretext" + args + " --quiet --out " + p},
      {"finetune", "finetune" + args + " --quiet --init " + l + " --out " + f}};
  for (const auto& name : {"pretrain-global", "pretrain-local", "pretrain-pretext", "finetune"}) {
    const std::string& command = stages.at(name);
    ASSERT_EQ(run_contraseg(command).status, 0) << command;
    RunResult r = run_contraseg(command);  // holds a run already
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("holds a run already"), std::string::npos) << r.err;
    expect_options_exist(name, r.err);
    r = run_contraseg(command + " --resume --set seed=7");  // resumed with a changed weight key
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("seed: 0 -> 7"), std::string::npos) << r.err;
    expect_options_exist(name, r.err);
  }
  RunResult r = run_contraseg("evaluate --run " + f);  // its evaluation exists already
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("holds an evaluation already"), std::string::npos) << r.err;
  expect_options_exist("evaluate", r.err);

  ASSERT_EQ(rep_result.status, 0) << rep_result.out << rep_result.err;
  r = run_contraseg(rep_args + rep + " --set seed=7");  // the folder's runs were made with another seed
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(rep + "/pretrain/gd: holds a run made with other settings"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("seed: 0 -> 7"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("choose another --out (or delete " + rep + "/pretrain/gd"), std::string::npos) << r.err;
  expect_options_exist("reproduce", r.err);

  // device = cuda where there is no GPU: each command that can say it takes --device.
  r = run_contraseg("finetune" + args + " --quiet --out " + *tmp / "opt_cuda --set device=cuda");
  if (r.status == 0) GTEST_SKIP() << "a GPU is here: no device error to check";
  EXPECT_NE(r.err.find("use --device cpu"), std::string::npos) << r.err;
  expect_options_exist("finetune", r.err);
  r = run_contraseg("evaluate --run " + f + " --out " + *tmp / "opt_eval --set device=cuda");
  EXPECT_NE(r.err.find("use --device cpu"), std::string::npos) << r.err;
  expect_options_exist("evaluate", r.err);
}

// Step lines say which step of how many and the time left; the curves still read them; reproduce
// says how many fine-tuning runs are left; --quiet prints only the result, not the configuration.
TEST_F(ProgressAndResume, ProgressAUserCanPlanWith) {
  const std::string out = *tmp / "progress", quiet = *tmp / "progress_quiet";
  RunResult r = run_contraseg("finetune" + args + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::regex step_line(R"(step (\d+)/6 loss [0-9.]+ ms/step [0-9.]+ images/s [0-9.]+ eta \d+s)");
  const std::string log = read_text(out + "/log.txt");
  EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), step_line), std::sregex_iterator()), 6) << log;
  EXPECT_NE(log.find("step 6/6 loss "), std::string::npos) << log;
  EXPECT_NE(r.out.find("step 3/6 loss "), std::string::npos) << r.out;
  const cs::Series loss = cs::read_loss_curve(out + "/log.txt");
  EXPECT_EQ(loss.x, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(cs::read_validation_curve(out + "/log.txt").x, (std::vector<double>{3, 6}));

  r = run_contraseg("finetune" + args + " --quiet --out " + quiet);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("resolved config"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("step 1/"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("loaded "), std::string::npos) << r.out;
  // The result: the training's and the evaluation's closing lines, nothing else.
  EXPECT_EQ(count_of(r.out, "\n"), 2u) << r.out;
  EXPECT_NE(r.out.find("finetune: done, best validation foreground Dice"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("evaluate: 2 test cases"), std::string::npos) << r.out;

  const std::string& o = rep_result.out;
  ASSERT_EQ(rep_result.status, 0) << o << rep_result.err;
  EXPECT_NE(o.find("stage 3: 3 fine-tuning runs, one at a time"), std::string::npos) << o;
  const std::regex first(R"(1 of 3 fine-tuning runs done, 2 left, ETA \d+s)");
  EXPECT_TRUE(std::regex_search(o, first)) << o;
  EXPECT_NE(o.find("3 of 3 fine-tuning runs done, 0 left\n"), std::string::npos) << o;
}

}  // namespace
