// The `contraseg` command as a user meets it: every option a command accepts is in its help,
// `contraseg help`, `contraseg config`'s allowed values, `contraseg split` on any dataset folder,
// the stage error for a folder without a split, and a whole pipeline run with relative paths
// whose run folders then work from another directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/io_test_util.h"
#include "io/datasets/splits.h"

namespace cs {
namespace {

using testing_io::load_json;
using testing_io::run_contraseg;
using testing_io::TempDir;
using testing_io::write_text;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

// The command names of `contraseg help`: the first word of each line under "commands:".
std::vector<std::string> listed_commands() {
  const auto r = run_contraseg("help");
  EXPECT_EQ(r.status, 0) << r.err;
  std::vector<std::string> names;
  bool in_list = false;
  for (const auto& l : lines_of(r.out)) {
    if (l == "commands:") {
      in_list = true;
      continue;
    }
    if (in_list && l.rfind("  ", 0) == 0) names.push_back(l.substr(2, l.find(' ', 2) - 2));
  }
  return names;
}

// `text` mentions `--name` as a whole option name (not as the start of a longer one).
bool mentions_option(const std::string& text, const std::string& option) {
  return std::regex_search(text, std::regex(option + "(?![-A-Za-z0-9])"));
}

TEST(Help, EveryOptionTheParserAcceptsIsDocumented) {
  const auto commands = listed_commands();
  for (const char* expected : {"synth", "split", "info", "preprocess", "summary", "pretrain-global", "pretrain-local",
                               "pretrain-pretext", "finetune", "evaluate", "predict", "reproduce", "demo", "profile",
                               "draw", "config", "help"})
    EXPECT_NE(std::find(commands.begin(), commands.end(), expected), commands.end()) << expected;
  for (const auto& command : commands) {
    if (command == "help") continue;  // built in, not a table-driven command
    // The parser's own table, as the binary holds it.
    const auto table = run_contraseg("help --options " + command);
    ASSERT_EQ(table.status, 0) << command << ": " << table.err;
    const auto options = lines_of(table.out);
    EXPECT_NE(std::find(options.begin(), options.end(), "--help"), options.end()) << command;
    const auto help = run_contraseg("help " + command), flag = run_contraseg(command + " --help");
    ASSERT_EQ(help.status, 0) << command;
    EXPECT_EQ(help.out, flag.out) << command;
    EXPECT_EQ(help.out.rfind("usage: contraseg " + command, 0), 0u) << help.out;
    for (const auto& option : options) {
      if (option == "--help") continue;  // -h/--help: every command, in every help text
      EXPECT_TRUE(mentions_option(help.out, option)) << command << " accepts " << option << " but its help omits it:\n"
                                                     << help.out;
      // The listed name is one the parser takes (with --help last, nothing runs).
      const auto parsed = run_contraseg(command + " " + option + "=x --help");
      EXPECT_EQ(parsed.err.find("unknown option"), std::string::npos) << command << " " << option << ": " << parsed.err;
    }
    const auto unknown = run_contraseg(command + " --no-such-option=x --help");
    EXPECT_EQ(unknown.status, 2) << command;
    EXPECT_NE(unknown.err.find("unknown option --no-such-option"), std::string::npos) << command << unknown.err;
  }
}

TEST(Help, NamesTheValuesThatWork) {
  const std::string evaluate = run_contraseg("help evaluate").out, predict = run_contraseg("predict --help").out;
  EXPECT_NE(evaluate.find("--checkpoint best|final|latest"), std::string::npos) << evaluate;
  EXPECT_TRUE(mentions_option(evaluate, "--set")) << evaluate;
  EXPECT_NE(predict.find("--checkpoint best|final|latest"), std::string::npos) << predict;
  EXPECT_NE(predict.find("--device cpu|cuda"), std::string::npos) << predict;
  const auto bad = run_contraseg("evaluate --run x --checkpoint newest");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("'newest' is not one of best|final|latest"), std::string::npos) << bad.err;
}

TEST(Help, UnknownCommandIsAUsageError) {
  auto r = run_contraseg("help nosuch");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("nosuch"), std::string::npos) << r.err;
  EXPECT_EQ(run_contraseg("nosuch").status, 2);
  r = run_contraseg("help");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, run_contraseg("--help").out);
}

TEST(Help, ConfigListsTheAllowedValuesOfEnumeratedKeys) {
  const auto r = run_contraseg("config");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& [key, values] : std::vector<std::pair<std::string, std::string>>{
           {"layout", "(auto|acdc|msd|mmwhs|nnunet)"}, {"device", "(cpu|cuda)"}, {"global.loss", "(gr|gd-|gd)"},
           {"dataset", "(acdc|prostate|mmwhs)"}, {"finetune.iterations", "(integer in [1, 100000000])"},
           {"pretext.task", "(rotation|restoration|inpainting)"}}) {
    bool found = false;
    for (const auto& l : lines_of(r.out))
      found |= l.rfind("  " + key + " ", 0) == 0 && l.find(values) != std::string::npos;
    EXPECT_TRUE(found) << key << " " << values << "\n" << r.out;
  }
}

// ACDC-layout case folders with empty images: enough for listing cases (nothing reads them).
void write_empty_acdc_cases(const std::string& dir, int first, int last) {
  for (int k = first; k <= last; ++k) {
    char name[16];
    std::snprintf(name, sizeof name, "patient%03d", k);
    write_text(dir + "/" + name + "/" + name + "_frame01.nii.gz", "");
  }
}

TEST(SplitCommand, WritesASplitOfTheFolder) {
  TempDir t;
  const std::string d = t / "data";
  write_empty_acdc_cases(d, 1, 20);
  auto r = run_contraseg("split --data " + d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("20 cases"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tr8 c1..c5"), std::string::npos) << r.out;
  const Splits s = load_splits(d + "/splits.json");
  EXPECT_EQ(s.test(), IdList({"004", "008", "012", "016", "020"}));
  EXPECT_EQ(s.all_ids().size(), 20u);
  // An existing split is kept unless --force.
  r = run_contraseg("split --data " + d + " --seed 7");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(load_splits(d + "/splits.json").test(), s.test());
  r = run_contraseg("split --data " + d + " --seed 7 --force --out " + t / "s7.json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(load_splits(t / "s7.json").test(), s.test());
  EXPECT_EQ(load_splits(t / "s7.json").all_ids(), s.all_ids());
}

TEST(SplitCommand, AnyLayoutAndClearErrors) {
  TempDir t;
  for (int k = 0; k < 10; ++k) write_text(t / ("msd/imagesTr/prostate_" + std::to_string(k) + ".nii.gz"), "");
  auto r = run_contraseg("split --data " + t / "msd" + " --dataset prostate --layout msd");
  ASSERT_EQ(r.status, 0) << r.err;
  const Splits s = load_splits(t / "msd/splits.json");
  EXPECT_EQ(s.dataset, "prostate");
  EXPECT_EQ(s.test(), IdList({"003", "007"}));
  // too few cases, no cases, a wrong layout: errors that name the folder
  write_empty_acdc_cases(t / "few", 1, 5);
  r = run_contraseg("split --data " + t / "few");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(t / "few"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at least 7"), std::string::npos) << r.err;
  r = run_contraseg("split --data " + t / "nothing");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(t / "nothing"), std::string::npos) << r.err;
  r = run_contraseg("split --data " + t / "msd" + " --layout brats");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("brats"), std::string::npos) << r.err;
}

TEST(SplitCommand, AStageOnAFolderWithoutASplitSaysHowToMakeOne) {
  TempDir t;
  const std::string d = t / "data";
  write_empty_acdc_cases(d, 1, 9);
  const auto r = run_contraseg("pretrain-global --data " + d + " --out " + t / "run");
  EXPECT_EQ(r.status, 1);
  for (const std::string& part : std::vector<std::string>{d + ": no splits.json", "acdc paper split", "acdc.json",
                                                          "011, 012", "contraseg split --data " + d})
    EXPECT_NE(r.err.find(part), std::string::npos) << part << "\n" << r.err;
  EXPECT_FALSE(std::filesystem::exists(t / "run"));
}

// Runs the test's commands from `dir`, then returns to where it was.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& dir) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~WorkingDirectory() { std::filesystem::current_path(previous_); }

 private:
  std::filesystem::path previous_;
};

TEST(RunFolders, WorkFromAnyDirectoryAfterRelativePaths) {
  TempDir work, elsewhere;
  {
    WorkingDirectory in(work.path());
    write_text("./tiny.json", R"({"image_size": 32, "target_res": 8.0, "log_every": 1, "checkpoint_every": 2,
      "threads": 1, "global": {"iterations": 3, "volumes": 2}, "local": {"iterations": 2, "batch": 2},
      "finetune": {"iterations": 4, "batch": 4, "val_every": 2}})");
    const std::string common = " --config tiny.json --data data --quiet";
    for (const std::string& step :
         {std::string("synth --out data --patients 8 --threads 2"), "pretrain-global" + common + " --out g",
          "pretrain-local" + common + " --init g --out l", "finetune" + common + " --init l --out f"}) {
      const auto r = run_contraseg(step);
      ASSERT_EQ(r.status, 0) << step << "\n" << r.out << r.err;
    }
  }
  // The run folders recorded absolute paths.
  const std::string data = std::filesystem::canonical(work / "data").string();
  EXPECT_EQ(load_json(work / "f/config.json")["data"], data);
  EXPECT_EQ(load_json(work / "f/env.json")["init"], std::filesystem::canonical(work / "l").string());
  EXPECT_EQ(load_json(work / "l/env.json")["init"], std::filesystem::canonical(work / "g").string());

  WorkingDirectory in(elsewhere.path());
  auto r = run_contraseg("evaluate --run " + work / "f" + " --out again");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  for (const char* file : {"again/summary.json", "again/metrics_per_case.csv", "again/predictions/004.nii.gz"})
    EXPECT_TRUE(std::filesystem::exists(elsewhere / file)) << file;
  EXPECT_EQ(load_json(elsewhere / "again/summary.json")["cases"], 2);
  r = run_contraseg("predict --run " + work / "f" + " --checkpoint latest --image " + data +
                    "/patient004/patient004_frame01.nii.gz --out pred.nii.gz");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(std::filesystem::exists(elsewhere / "pred.nii.gz"));
}

// A bf16 run says so: env.json (the precision, oneDNN's ISA, how bf16 runs here), its log and
// its resolved config (which every checkpoint carries, and whose hash a resume must match); it
// trains in bf16, and an fp32 run is recorded as such. The losses show the precision the steps
// ran in: a second fp32 run logs the first one's to the digit, the bf16 run does not (its
// first step starts from the same weights on the same batch).
TEST(RunFolders, RecordTheirPrecision) {
  TempDir work;
  WorkingDirectory in(work.path());
  write_text("./tiny.json", R"({"image_size": 32, "target_res": 8.0, "log_every": 1, "threads": 1,
    "global": {"iterations": 2, "volumes": 2}})");
  auto r = run_contraseg("synth --out data --patients 8 --threads 2");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  std::map<std::string, std::vector<std::string>> losses;  // run folder -> the logged loss of each step
  for (const std::string out : {"fp32", "bf16", "fp32_again"}) {
    const std::string p = out.substr(0, 4);
    r = run_contraseg("pretrain-global --config tiny.json --data data --quiet --out " + out + " --set precision=" + p);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const auto env = load_json(work / (out + "/env.json"));
    EXPECT_EQ(env["precision"], p);
    EXPECT_FALSE(env["cpu_isa"].get<std::string>().empty());
    EXPECT_EQ(env.contains("bf16"), p == "bf16");
    EXPECT_EQ(load_json(work / (out + "/config.json"))["precision"], p);
    const std::vector<char> log = testing_io::read_bytes(work / (out + "/log.txt"));
    const std::string text(log.begin(), log.end());
    EXPECT_EQ(text.find("bf16: ") != std::string::npos, p == "bf16") << text;
    const std::regex step_loss(R"(step (\d+)/2 loss (\S+))");
    for (auto m = std::sregex_iterator(text.begin(), text.end(), step_loss); m != std::sregex_iterator(); ++m)
      losses[out].push_back((*m)[2]);
    EXPECT_EQ(losses[out].size(), 2u) << text;
  }
  EXPECT_EQ(losses["fp32_again"], losses["fp32"]) << "two fp32 runs of one config differ";
  ASSERT_FALSE(losses["bf16"].empty());
  EXPECT_NE(losses["bf16"][0], losses["fp32"][0]) << "the first bf16 step logs the loss of the fp32 step";
}

}  // namespace
}  // namespace cs
