// The paper's tables from the command line (docs/method.md §9): paper-comparison and
// paper-ablation at tiny settings on a split that defines the released protocol (tr1 c1-c5,
// tr2 c1-c5, tr8 c1-c3) write every row with n = 5/5/3, each pre-training once, and the second
// table into the same folder trains only the rows the first did not have.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::RunResult;
using testing_io::read_text;
using testing_io::run_contraseg;
using testing_io::TempDir;

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// 14 phantom patients: candidates 001-010 for the labelled sets, 011-012 validation, 013-014 test.
nlohmann::json released_protocol_split() {
  const auto id = [](int k) { return fmt::format("{:03d}", k); };
  nlohmann::json labeled;
  for (int k = 1; k <= 5; ++k) {
    labeled["tr1"][fmt::format("c{}", k)] = {{"train", {id(k)}}, {"val", {"011", "012"}}};
    labeled["tr2"][fmt::format("c{}", k)] = {{"train", {id(k), id(k + 1)}}, {"val", {"011", "012"}}};
  }
  for (int k = 1; k <= 3; ++k) {
    std::vector<std::string> eight;
    for (int i = k; i < k + 8; ++i) eight.push_back(id(i));
    labeled["tr8"][fmt::format("c{}", k)] = {{"train", eight}, {"val", {"011", "012"}}};
  }
  std::vector<std::string> pool;
  for (int k = 1; k <= 10; ++k) pool.push_back(id(k));
  return {{"dataset", "acdc"},
          {"test", {"013", "014"}},
          {"pretrain", {{"name", "pool"}, {"train", pool}, {"val", {"011", "012"}}}},
          {"labeled", labeled},
          {"benchmark", {{"name", "trall"}, {"train", pool}, {"val", {"011", "012"}}}}};
}

TEST(Tables, ComparisonAndAblationWriteEveryRowOverTheReleasedProtocolSharingRuns) {
  TempDir tmp;
  const std::string data = tmp / "data", out = tmp / "runs", config = tmp / "tiny.json";
  RunResult r = run_contraseg("synth --out " + data + " --patients 14 --seed 5 --slices 4:5 --pixel 6:6");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  std::ofstream(data + "/splits.json") << released_protocol_split().dump(2);
  // Tiny everything (6 mm phantom pixels: small native volumes); 1x1 local regions leave room for
  // l = 1 at 32 pixels.
  std::ofstream(config) << R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "log_every": 1,
    "global": {"iterations": 2, "volumes": 2}, "local": {"iterations": 2, "batch": 2, "region": 1},
    "pretext": {"iterations": 2, "batch": 4}, "finetune": {"iterations": 1, "batch": 2, "val_every": 1},
    "reproduce": {"labeled": "tr1,tr2,tr8", "combs": "all", "workers": 0}})";
  const std::string args = "reproduce --config " + config + " --data " + data + " --out " + out + " --table ";

  r = run_contraseg(args + "paper-comparison");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  r = run_contraseg(args + "paper-ablation");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  // The ablation shares random, G^R and G^D + L^R with the comparison: its 6 other rows x 13 runs
  // are all it trains, and of its pre-trainings only G^R and G^D + L^R (and G^D under it) exist.
  EXPECT_EQ(count_of(r.out, "is finished; nothing to train"), 3u * 13 + 3) << r.out;

  for (const auto& [table, rows] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"paper-comparison",
            {"random init", "rotation", "context restoration", "inpainting", "G^R", "G^D + L^R (l=3)"}},
           {"paper-ablation",
            {"random init", "G^R", "G^D-", "G^D", "G^R + L^R (l=3)", "G^D + L^R (l=3)", "G^D + L^D (l=3)",
             "G^D + L^R (l=1)", "G^D + L^R (l=2)"}}}) {
    SCOPED_TRACE(table);
    const std::string md = read_text(out + "/results-" + table + ".md");
    EXPECT_NE(md.find(", table " + table), std::string::npos) << md;
    const std::string main_table = md.substr(0, md.find("## Per class"));
    for (const auto& row : rows) {
      // The row (marked or not), then n = 5, 5 and 3 in its three columns.
      const size_t at = main_table.find("\n| " + row + " ");
      ASSERT_NE(at, std::string::npos) << row << "\n" << md;
      const std::string line = main_table.substr(at + 1, main_table.find('\n', at + 1) - at - 1);
      EXPECT_EQ(count_of(line, "(n=5)"), 2u) << line;
      EXPECT_EQ(count_of(line, "(n=3)"), 1u) << line;
    }
    EXPECT_EQ(count_of(main_table, "\n| "), rows.size() + 1) << md;  // the header and the rows
    EXPECT_NE(md.find("tr8 c1,c2,c3 (3 of the 3 the split defines)"), std::string::npos) << md;
    // Each table's validation curves in its own folder: the second does not overwrite the first's.
    EXPECT_TRUE(std::filesystem::exists(out + "/pictures/" + table + "/validation_tr8_c3.png"));
    const std::string csv = read_text(out + "/results-" + table + ".csv");
    EXPECT_EQ(count_of(csv, "\n"), 1 + rows.size() * 13) << csv;  // one line per run
  }
  // Each pre-training once, in its own folder, with its last probe reading.
  for (const char* name : {"gr", "gd-", "gd", "gr+lr@l3", "gd+lr@l3", "gd+ld@l3", "gd+lr@l1", "gd+lr@l2", "rotation",
                           "restoration", "inpainting"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/pretrain/" + std::string(name) + "/checkpoints/final.safetensors"))
        << name;
    EXPECT_TRUE(std::filesystem::exists(out + "/pretrain/" + std::string(name) + "/probe.json")) << name;
  }
  EXPECT_EQ(nlohmann::json::parse(read_text(out + "/pretrain/gd+ld@l3/config.json"))["init"], "../gd");
}

// Misuse of --table and of `contraseg table`: a clear error and a non-zero exit before any work,
// nothing created.
TEST(Tables, MisuseIsAClearErrorThatCreatesNothing) {
  TempDir tmp;
  const std::string out = tmp / "runs";
  RunResult r = run_contraseg("reproduce --config " + std::string(CONTRASEG_SOURCE_DIR) +
                              "/experiments/configs/acdc.json --data " + tmp / "nowhere" + " --out " + out +
                              " --table paper-foo");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--table: reproduce.rows: 'paper-foo' is neither a row nor a table"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  r = run_contraseg("table " + tmp / "nowhere");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(tmp / "nowhere/results.csv: no such table; run contraseg reproduce --out"), std::string::npos)
      << r.err;
  r = run_contraseg("table");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("name at least one reproduce folder"), std::string::npos) << r.err;

  std::filesystem::create_directories(tmp / "acdc");
  std::ofstream(tmp / "acdc/results.csv") << "dataset,init,labeled,comb,foreground_mean_dice\nacdc,random,tr1,c1,0.5\n";
  std::ofstream(tmp / "taken.md") << "mine";
  r = run_contraseg("table " + tmp / "acdc" + " --out " + tmp / "taken.md");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("taken.md: exists already"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(tmp / "taken.md"), "mine");
  r = run_contraseg("table " + tmp / "acdc" + " --out " + tmp / "no_such_folder/t.md");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no_such_folder"), std::string::npos) << r.err;
  r = run_contraseg("table " + tmp / "acdc" + " --table paper-main");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("results-paper-main.csv: no such table"), std::string::npos) << r.err;
  r = run_contraseg("table " + tmp / "acdc" + " --out " + tmp / "t.md");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(read_text(tmp / "t.md").find("| random init | 0.500 ± 0.000 (n=1) |"), std::string::npos);
}

}  // namespace
}  // namespace cs
