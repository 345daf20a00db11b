// The pipeline end to end through the `contraseg` command, on a tiny phantom dataset: every
// stage, reproduce's table, predict's geometry, resume after a kill, and clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "io/nifti.h"
#include "nn/safetensors.h"

namespace {

struct Result {
  int status;
  std::string output;
};

Result run(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + CONTRASEG_BINARY + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// One phantom dataset and tiny config shared by the tests of this file.
class Pipeline : public ::testing::Test {
 protected:
  static std::string dir, data, config;
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cs_pipeline_XXXXXX";
    dir = mkdtemp(tmpl);
    data = dir + "/data";
    const Result r = run("synth --out " + data + " --patients 8 --seed 3");
    ASSERT_EQ(r.status, 0) << r.output;
    nlohmann::json s = {{"dataset", "acdc"},
                        {"test", {"007", "008"}},
                        {"pretrain", {{"name", "pool"}, {"train", {"001", "002", "003", "004"}}, {"val", {"005", "006"}}}},
                        {"labeled", {{"tr1", {{"c1", {{"train", {"001"}}, {"val", {"005", "006"}}}}}}}},
                        {"benchmark", {{"name", "trall"}, {"train", {"001", "002"}}, {"val", {"005", "006"}}}}};
    std::ofstream(data + "/splits.json") << s.dump(2);
    config = dir + "/tiny.json";
    std::ofstream(config) << R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "log_every": 1,
      "checkpoint_every": 2, "threads": 1,
      "global": {"iterations": 3, "volumes": 2}, "local": {"iterations": 2, "batch": 2},
      "finetune": {"iterations": 6, "batch": 4, "val_every": 3}, "reproduce": {"labeled": "tr1", "combs": "c1"}})";
  }
  static void TearDownTestSuite() { std::system(("rm -rf " + dir).c_str()); }
};
std::string Pipeline::dir, Pipeline::data, Pipeline::config;

TEST_F(Pipeline, ReproduceWritesTheTableAndEveryRunFolder) {
  const std::string out = dir + "/rep";
  const Result r = run("reproduce --config " + config + " --data " + data + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string md = slurp(out + "/results.md");
  for (const char* row : {"random init", "global only", "global + local"}) EXPECT_NE(md.find(row), std::string::npos) << md;
  EXPECT_TRUE(exists(out + "/results.csv"));
  for (const char* stage : {"pretrain-global", "pretrain-local"}) {
    EXPECT_TRUE(exists(out + "/" + stage + "/checkpoints/final.safetensors"));
    EXPECT_TRUE(exists(out + "/" + stage + "/config.json"));
    EXPECT_TRUE(exists(out + "/" + stage + "/env.json"));
    EXPECT_NE(slurp(out + "/" + stage + "/log.txt").find("step 1 loss "), std::string::npos);
  }
  const std::string ft = out + "/finetune/global_local/tr1_c1";
  EXPECT_TRUE(exists(ft + "/checkpoints/best.safetensors"));
  const auto summary = nlohmann::json::parse(slurp(ft + "/eval/summary.json"));
  ASSERT_TRUE(summary.contains("foreground_mean_dice"));
  EXPECT_EQ(summary["cases"], 2);
  const std::string csv = slurp(ft + "/eval/metrics_per_case.csv");
  EXPECT_NE(csv.find("007,"), std::string::npos);
  EXPECT_NE(csv.find("hd95_mm_LV"), std::string::npos);
  EXPECT_TRUE(exists(ft + "/eval/predictions/008.nii.gz"));
  // A second reproduce on the same folder finds everything done.
  const Result again = run("reproduce --config " + config + " --data " + data + " --out " + out);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(again.output.find("stage 1:"), std::string::npos);

  // predict keeps the input's geometry.
  const std::string img = data + "/patient007/patient007_frame01.nii.gz", pred = dir + "/pred.nii.gz";
  const Result p = run("predict --run " + ft + " --image " + img + " --out " + pred);
  ASSERT_EQ(p.status, 0) << p.output;
  const cs::Volume a = cs::read_nifti(img), b = cs::read_nifti(pred);
  EXPECT_EQ(a.nx, b.nx);
  EXPECT_EQ(a.ny, b.ny);
  EXPECT_EQ(a.nz, b.nz);
  EXPECT_EQ(a.sform_code, b.sform_code);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(a.sto_xyz[i][j], b.sto_xyz[i][j], 1e-4);
  for (float v : b.data) EXPECT_TRUE(v >= 0 && v <= 3);
}

TEST_F(Pipeline, ResumeAfterAKillEndsWithTheSameWeights) {
  const std::string a = dir + "/ft_a", b = dir + "/ft_b";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out ";
  ASSERT_EQ(run(args + a).status, 0);
  const Result killed = run(args + b, "CONTRASEG_CRASH_AFTER_STEP=5");
  EXPECT_EQ(killed.status, 86) << killed.output;
  EXPECT_FALSE(exists(b + "/checkpoints/final.safetensors"));
  const Result resumed = run(args + b + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(slurp(b + "/log.txt").find("resumed finetune at step 4"), std::string::npos);
  const cs::SafeTensorsReader fa(a + "/checkpoints/final.safetensors"), fb(b + "/checkpoints/final.safetensors");
  ASSERT_EQ(fa.names(), fb.names());
  for (const auto& name : fa.names()) EXPECT_EQ(fa.read_floats(name), fb.read_floats(name)) << name;
}

TEST_F(Pipeline, ClearErrorsBeforeTraining) {
  // init that is not a run folder
  Result r = run("pretrain-local --config " + config + " --data " + data + " --out " + dir + "/x1 --init " + dir);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("not a run folder"), std::string::npos) << r.output;
  // unknown key
  r = run("finetune --config " + config + " --data " + data + " --out " + dir + "/x2 --set finetune.iters=3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("finetune.iters"), std::string::npos) << r.output;
  // a split naming a missing patient
  std::ofstream(dir + "/bad_split.json") << R"({"dataset": "acdc", "test": ["099"],
      "pretrain": {"name": "p", "train": ["001"], "val": ["002"]},
      "labeled": {"tr1": {"c1": {"train": ["042"], "val": ["002"]}}},
      "benchmark": {"name": "trall", "train": ["001"], "val": ["002"]}})";
  r = run("finetune --config " + config + " --data " + data + " --out " + dir + "/x3 --set splits=" + dir +
          "/bad_split.json");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("042"), std::string::npos) << r.output;
  EXPECT_FALSE(exists(dir + "/x3/checkpoints/final.safetensors"));
}

}  // namespace
