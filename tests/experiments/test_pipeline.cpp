// The pipeline end to end through the `contraseg` command, on a tiny phantom dataset: every
// stage, reproduce's table, predict's geometry, resume after a kill, and clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "experiments/pipeline/folder_lock.h"
#include "io/formats/nifti.h"
#include "io/formats/tfevents.h"
#include "nn/safetensors.h"
#include "support/io_test_util.h"
#include "support/tiny_split.h"

namespace {

struct Result {
  int status;
  std::string output;
};

Result run(const std::string& args, const std::string& env = "", const std::string& binary = CONTRASEG_BINARY) {
  const std::string cmd = env + " " + binary + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// The command, killed abruptly after training step `step` (tests/tools/killable_contraseg.cpp).
Result run_killed_after(int step, const std::string& args) {
  return run(args, "CONTRASEG_KILL_AFTER_STEP=" + std::to_string(step), CONTRASEG_KILLABLE_BINARY);
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

// The paths whose entries differ between two listings of files (io_test_util.h files_of), one
// per line.
std::string changed_files(const std::map<std::string, std::string>& before,
                          const std::map<std::string, std::string>& after) {
  std::map<std::string, std::string> both = before;
  both.insert(after.begin(), after.end());
  std::string out;
  for (const auto& [path, _] : both) {
    const auto b = before.find(path), a = after.find(path);
    if (b == before.end() || a == after.end() || b->second != a->second)
      out += path + ": " + (b == before.end() ? "(none)" : b->second) + " -> " +
             (a == after.end() ? "(none)" : a->second) + "\n";
  }
  return out;
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
    nlohmann::json s = cs::testing_io::tiny_split();
    std::ofstream(data + "/splits.json") << s.dump(2);
    config = dir + "/tiny.json";
    std::ofstream(config) << R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "log_every": 1,
      "checkpoint_every": 2, "threads": 1,
      "global": {"iterations": 3, "volumes": 2, "knn_every": 3}, "local": {"iterations": 2, "batch": 2, "retrieval_every": 2},
      "finetune": {"iterations": 6, "batch": 4, "val_every": 3, "bn_batches": 2}, "reproduce": {"labeled": "tr1", "combs": "c1"}})";
  }
  static void TearDownTestSuite() { std::system(("rm -rf " + dir).c_str()); }
};
std::string Pipeline::dir, Pipeline::data, Pipeline::config;

// Overwrites `n` bytes in the middle of a file with random ones: same size, damaged content.
void damage_middle(const std::string& path, size_t n) {
  std::string bytes = slurp(path);
  ASSERT_GT(bytes.size(), 2 * n);
  std::mt19937 rng(7);
  for (size_t i = 0; i < n; ++i) bytes[bytes.size() / 2 + i] = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void expect_same_final_weights(const std::string& a, const std::string& b) {
  const cs::SafeTensorsReader fa(a + "/checkpoints/final.safetensors"), fb(b + "/checkpoints/final.safetensors");
  ASSERT_EQ(fa.names(), fb.names());
  for (const auto& name : fa.names()) EXPECT_EQ(fa.read_floats(name), fb.read_floats(name)) << name;
}

TEST_F(Pipeline, ReproduceWritesTheTableAndEveryRunFolder) {
  const std::string out = dir + "/rep";
  const Result r = run("reproduce --config " + config + " --data " + data + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string md = slurp(out + "/results.md");
  for (const char* row : {"| random init |", "| G^D |", "| G^D + L^R (l=3) |"})
    EXPECT_NE(md.find(row), std::string::npos) << md;
  EXPECT_TRUE(exists(out + "/results.csv"));
  EXPECT_TRUE(exists(out + "/pictures/validation_tr1_c1.png"));  // the three initialisations' curves
  const std::string g = out + "/pretrain/gd", l = out + "/pretrain/gd+lr@l3";
  const std::string g_log = slurp(g + "/log.txt");  // the k-NN probe, before and after
  EXPECT_NE(g_log.find("knn step 0 partition_accuracy "), std::string::npos) << g_log;
  EXPECT_NE(g_log.find("knn step 3 partition_accuracy "), std::string::npos) << g_log;
  EXPECT_TRUE(exists(g + "/pictures/embeddings_step0.png"));
  EXPECT_TRUE(exists(g + "/pictures/embeddings_step3.png"));
  EXPECT_TRUE(exists(g + "/pictures/similarity_step0.png"));
  EXPECT_TRUE(exists(g + "/pictures/similarity_step3.png"));
  const std::string l_log = slurp(l + "/log.txt");  // the retrieval probe, before and after
  EXPECT_NE(l_log.find("retrieval step 0 region_accuracy "), std::string::npos) << l_log;
  EXPECT_NE(l_log.find("retrieval step 2 region_accuracy "), std::string::npos) << l_log;
  EXPECT_NE(l_log.find(" class_accuracy "), std::string::npos) << l_log;
  EXPECT_TRUE(exists(l + "/pictures/similarity_maps_step0.png"));
  EXPECT_TRUE(exists(l + "/pictures/similarity_maps_step2.png"));
  for (const std::string& stage : {g, l}) {
    EXPECT_TRUE(exists(stage + "/checkpoints/final.safetensors"));
    EXPECT_TRUE(exists(stage + "/config.json"));
    EXPECT_TRUE(exists(stage + "/env.json"));
    EXPECT_TRUE(exists(stage + "/probe.json"));  // the last probe readings, beside the Dice in the table
    EXPECT_NE(slurp(stage + "/log.txt").find("step 1/"), std::string::npos);
  }
  // The probes and the pictures also go to each pre-training's TensorBoard events.
  for (const auto& [stage, tags] : std::map<std::string, std::vector<std::string>>{
           {g, {"probe/k-nn_partition_accuracy", "pictures/embeddings", "pictures/similarity"}},
           {l, {"probe/region_retrieval_accuracy", "probe/class_retrieval_accuracy", "pictures/similarity_maps"}}}) {
    std::string events;
    for (const auto& e : std::filesystem::directory_iterator(stage))
      if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
        for (const auto& record : cs::read_tf_records(e.path().string())) events += record;
    for (const auto& tag : tags) EXPECT_NE(events.find(tag), std::string::npos) << stage << ": " << tag;
  }
  EXPECT_NE(md.find("k-NN partition accuracy "), std::string::npos) << md;
  EXPECT_NE(md.find("region retrieval accuracy "), std::string::npos) << md;
  EXPECT_NE(md.find("## Per class"), std::string::npos) << md;
  EXPECT_NE(md.find("| tr1 RV | tr1 Myo | tr1 LV |"), std::string::npos) << md;
  const std::string ft = out + "/finetune/gd+lr@l3/tr1_c1";
  EXPECT_TRUE(exists(ft + "/checkpoints/best.safetensors"));
  const auto summary = nlohmann::json::parse(slurp(ft + "/eval/summary.json"));
  ASSERT_TRUE(summary.contains("foreground_mean_dice"));
  EXPECT_EQ(summary["cases"], 2);
  const std::string csv = slurp(ft + "/eval/metrics_per_case.csv");
  EXPECT_NE(csv.find("007,"), std::string::npos);
  EXPECT_NE(csv.find("hd95_mm_LV"), std::string::npos);
  EXPECT_TRUE(exists(ft + "/eval/predictions/008.nii.gz"));
  // A second reproduce on the same folder finds everything done and writes nothing into the
  // stage folders: no file is added, removed, rewritten or touched.
  const auto before = cs::testing_io::stage_files_of(out);
  ASSERT_FALSE(before.empty());
  const Result again = run("reproduce --config " + config + " --data " + data + " --out " + out);
  ASSERT_EQ(again.status, 0) << again.output;
  for (const char* what : {"pretrain-global: ", "pretrain-local: ", "finetune: "})
    EXPECT_NE(again.output.find(std::string(what) + out + "/"), std::string::npos) << what << again.output;
  EXPECT_EQ(changed_files(before, cs::testing_io::stage_files_of(out)), "");

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

// Fine-tuning runs trained side by side (reproduce.workers) give the table and the weights of the
// same runs one after another on one thread each, and the terminal shows each run as one block.
TEST_F(Pipeline, ReproduceSideBySideEqualsOneAtATime) {
  // Runs side by side are capped at the hardware threads (reproduce.cpp side_by_side).
  const int workers = static_cast<int>(std::min(3u, std::thread::hardware_concurrency()));
  if (workers < 2) GTEST_SKIP() << "side by side needs 2 hardware threads";
  const std::string at_a_time = fmt::format("{} at a time on 1 thread each", workers);
  const std::string one = dir + "/rep_one", side = dir + "/rep_side";
  const std::string args = "reproduce --config " + config + " --data " + data + " --out ";
  const Result a = run(args + one + " --set reproduce.workers=1");
  ASSERT_EQ(a.status, 0) << a.output;
  const Result b = run(args + side + " --set reproduce.workers=3");
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.output.find("stage 3: 3 fine-tuning runs, " + at_a_time), std::string::npos) << b.output;
  EXPECT_EQ(slurp(one + "/results.csv"), slurp(side + "/results.csv"));
  EXPECT_NE(slurp(side + "/results.md").find("(fine-tuning runs " + at_a_time + ")"), std::string::npos);
  for (const char* init : {"random", "gd", "gd+lr@l3"}) {
    const std::string run_dir = std::string("/finetune/") + init + "/tr1_c1";
    expect_same_final_weights(one + run_dir, side + run_dir);
    // Its block: the title, then the run's own lines up to its evaluation, nothing in between.
    const size_t title = b.output.find(" -> " + side + run_dir + "\n");
    ASSERT_NE(title, std::string::npos) << b.output;
    const size_t end = b.output.find("evaluate: ", title);
    ASSERT_NE(end, std::string::npos) << b.output;
    const std::string block = b.output.substr(title, end - title);
    EXPECT_EQ(block.find("stage 3:"), std::string::npos) << block;
    EXPECT_NE(block.find("finetune: tr1 c1 (1 volumes)"), std::string::npos) << block;
    EXPECT_NE(b.output.substr(end, b.output.find('\n', end) - end).find(side + run_dir), std::string::npos);
  }
}

TEST_F(Pipeline, ResumeAfterAKillEndsWithTheSameWeights) {
  const std::string a = dir + "/ft_a", b = dir + "/ft_b";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out ";
  ASSERT_EQ(run(args + a).status, 0);
  const Result killed = run_killed_after(5, args + b);
  EXPECT_EQ(killed.status, 86) << killed.output;
  EXPECT_FALSE(exists(b + "/checkpoints/final.safetensors"));
  const Result resumed = run(args + b + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(slurp(b + "/log.txt").find("resumed finetune at step 4"), std::string::npos);
  expect_same_final_weights(a, b);
}

// Slurm's warning before a time limit (SIGUSR1; SIGTERM alike): the run saves a checkpoint after the
// step in progress and exits with the requeue status; resumed, it ends with the weights of an
// uninterrupted run. Each process that trained it wrote its TensorBoard events.
TEST_F(Pipeline, ASignalCheckpointsExitsWithTheRequeueStatusAndTheRunResumes) {
  const std::string a = dir + "/sig_a", b = dir + "/sig_b";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out ";
  ASSERT_EQ(run(args + a).status, 0);
  const Result signalled = run(args + b, "CONTRASEG_SIGNAL_AFTER_STEP=2", CONTRASEG_KILLABLE_BINARY);
  EXPECT_EQ(signalled.status, 75) << signalled.output;
  EXPECT_NE(signalled.output.find("preempted (SIGUSR1) after step 3"), std::string::npos) << signalled.output;
  EXPECT_FALSE(exists(b + "/checkpoints/final.safetensors"));
  EXPECT_NE(slurp(b + "/log.txt").find("preempted: SIGUSR1 after step 3/6"), std::string::npos);
  const Result resumed = run(args + b + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(slurp(b + "/log.txt").find("resumed finetune at step 3"), std::string::npos);
  expect_same_final_weights(a, b);
  // The events: a file per process, with the scalars and the evaluation's pictures.
  std::vector<std::string> events;
  for (const auto& e : std::filesystem::directory_iterator(b))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) events.push_back(e.path().string());
  ASSERT_EQ(events.size(), 2u);
  std::string all;
  for (const auto& file : events)
    for (const auto& record : cs::read_tf_records(file)) all += record;
  for (const char* tag : {"train/loss", "train/learning_rate", "train/images_per_second",
                          "validation/foreground_dice", "evaluation/test_foreground_dice", "evaluation/loss", "brain.Event:2"})
    EXPECT_NE(all.find(tag), std::string::npos) << tag;
  EXPECT_NE(all.find("\x89PNG"), std::string::npos);  // an image summary
}

// The probes read the model between steps; the weights they leave are those of a run without them.
TEST_F(Pipeline, TheProbesLeaveTheWeightsAlone) {
  const std::string g0 = dir + "/probe_g0", g1 = dir + "/probe_g1", l0 = dir + "/probe_l0", l1 = dir + "/probe_l1";
  const std::string global = "pretrain-global --config " + config + " --data " + data + " --quiet --out ";
  ASSERT_EQ(run(global + g0 + " --set global.knn_every=0").status, 0);
  ASSERT_EQ(run(global + g1 + " --set global.knn_every=1").status, 0);
  expect_same_final_weights(g0, g1);
  // ... with the probe run: before training and after each of the 3 steps, an accuracy between 0
  // and 1 against a chance level in (0, 1); the embedding pictures before and after, none without it.
  std::vector<int> probed;
  std::istringstream g1_log(slurp(g1 + "/log.txt"));
  for (std::string line; std::getline(g1_log, line);) {
    if (line.rfind("knn step ", 0) != 0) continue;
    std::istringstream words(line);
    std::string knn, step, accuracy_key, chance_key;
    int at = -1;
    double accuracy = -1, chance = -1;
    words >> knn >> step >> at >> accuracy_key >> accuracy >> chance_key >> chance;
    ASSERT_EQ(accuracy_key + " " + chance_key, "partition_accuracy chance") << line;
    EXPECT_TRUE(accuracy >= 0 && accuracy <= 1) << line;
    EXPECT_TRUE(chance > 0 && chance < 1) << line;
    probed.push_back(at);
  }
  EXPECT_EQ(probed, (std::vector<int>{0, 1, 2, 3})) << slurp(g1 + "/log.txt");
  EXPECT_EQ(slurp(g0 + "/log.txt").find("knn step"), std::string::npos);
  for (const char* picture : {"/pictures/embeddings_step0.png", "/pictures/embeddings_step3.png"}) {
    EXPECT_TRUE(exists(g1 + picture)) << picture;
    EXPECT_FALSE(exists(g0 + picture)) << picture;
  }
  const std::string local = "pretrain-local --config " + config + " --data " + data + " --init " + g0 + " --quiet --out ";
  ASSERT_EQ(run(local + l0 + " --set local.retrieval_every=0").status, 0);
  ASSERT_EQ(run(local + l1 + " --set local.retrieval_every=1").status, 0);
  expect_same_final_weights(l0, l1);
  EXPECT_NE(slurp(l1 + "/log.txt").find("retrieval step 1 "), std::string::npos);
}

TEST_F(Pipeline, ASecondWriterIsRefusedNamingTheFirst) {
  const std::string out = dir + "/locked";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out " + out;
  ASSERT_EQ(run(args).status, 0);
  const std::string log = slurp(out + "/log.txt"), config_json = slurp(out + "/config.json");
  const cs::FolderLock holder(out, "the test's own holder");  // this process writes the folder now
  const std::string pid = "pid " + std::to_string(::getpid());
  for (const std::string& cmd : {args + " --resume", args + " --overwrite", "evaluate --run " + out + " --overwrite",
                                 "reproduce --config " + config + " --data " + data + " --out " + out}) {
    const Result r = run(cmd);
    EXPECT_NE(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("in use by another contraseg process (" + pid), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("the test's own holder"), std::string::npos) << r.output;
  }
  EXPECT_EQ(slurp(out + "/log.txt"), log);
  EXPECT_EQ(slurp(out + "/config.json"), config_json);
  EXPECT_TRUE(exists(out + "/eval/summary.json"));
}

TEST_F(Pipeline, AFolderHoldingARunIsResumedOnlyWithItsOwnSettings) {
  const std::string out = dir + "/rules";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out " + out;
  ASSERT_EQ(run(args).status, 0);
  const std::string final_bytes = slurp(out + "/checkpoints/final.safetensors"), log = slurp(out + "/log.txt");

  Result r = run(args);  // neither --resume nor --overwrite
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("holds a run already; add --resume to continue it, or --overwrite"), std::string::npos)
      << r.output;

  r = run(args + " --resume --set lr=0.01 --set finetune.batch=2");  // weight keys: refused, each listed
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("lr: 0.001 -> 0.01"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("finetune.batch: 4 -> 2"), std::string::npos) << r.output;

  r = run(args + " --resume --set log_every=5");  // not a weight key; and the run is finished
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("do not affect the weights:\n  log_every: 1 -> 5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is finished; nothing to train"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(out + "/checkpoints/final.safetensors"), final_bytes);
  EXPECT_EQ(slurp(out + "/log.txt"), log);

  r = run("evaluate --run " + out);  // its evaluation is there already
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("holds an evaluation already; pass --overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(run("evaluate --run " + out + " --overwrite").status, 0);
  EXPECT_FALSE(exists(out + "/eval.partial"));

  r = run(args + " --overwrite --set lr=0.01");  // starts again, with the new settings
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(slurp(out + "/log.txt").rfind(log, 0), 0u) << "the old log was continued, not started again";
  EXPECT_NE(slurp(out + "/checkpoints/final.safetensors"), final_bytes);
}

TEST_F(Pipeline, ADamagedLatestCheckpointFallsBackToThePreviousOne) {
  const std::string a = dir + "/dmg_a", b = dir + "/dmg_b";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out ";
  ASSERT_EQ(run(args + a).status, 0);
  // checkpoint_every 2: the kill after step 5 leaves latest (after step 4) and previous (step 2).
  ASSERT_EQ(run_killed_after(5, args + b).status, 86);
  damage_middle(b + "/checkpoints/latest.safetensors", 4096);
  const Result r = run(args + b + " --resume");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string log = slurp(b + "/log.txt");
  EXPECT_NE(log.find("latest.safetensors"), std::string::npos) << log;
  EXPECT_NE(log.find("checksum mismatch"), std::string::npos) << log;
  EXPECT_NE(log.find("resumed finetune at step 2 from " + b + "/checkpoints/previous.safetensors"), std::string::npos)
      << log;
  expect_same_final_weights(a, b);
}

TEST_F(Pipeline, ResumeRefusesWhenEveryCheckpointIsDamaged) {
  const std::string b = dir + "/dmg_both";
  const std::string args = "finetune --config " + config + " --data " + data + " --quiet --out " + b;
  ASSERT_EQ(run_killed_after(5, args).status, 86);
  damage_middle(b + "/checkpoints/latest.safetensors", 4096);
  damage_middle(b + "/checkpoints/previous.safetensors", 4096);
  const Result r = run(args + " --resume");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("latest.safetensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("previous.safetensors"), std::string::npos) << r.output;
  EXPECT_FALSE(exists(b + "/checkpoints/final.safetensors"));
}

TEST_F(Pipeline, ClearErrorsBeforeTraining) {
  // `STAGE ARGS` with the test's config and data into dir/OUT fails, naming `what`.
  const auto expect_refused = [&](const std::string& stage, const std::string& out, const std::string& args,
                                  const std::string& what) {
    const Result r = run(stage + " --config " + config + " --data " + data + " --out " + dir + "/" + out + " " + args);
    EXPECT_NE(r.status, 0) << stage << " " << args;
    EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
  };
  // init that is not a run folder
  expect_refused("pretrain-local", "x1", "--init " + dir, "not a run folder");
  // unknown key
  expect_refused("finetune", "x2", "--set finetune.iters=3", "finetune.iters");
  // a split naming a missing patient
  std::ofstream(dir + "/bad_split.json") << R"({"dataset": "acdc", "test": ["099"],
      "pretrain": {"name": "p", "train": ["001"], "val": ["002"]},
      "labeled": {"tr1": {"c1": {"train": ["042"], "val": ["002"]}}},
      "benchmark": {"name": "trall", "train": ["001"], "val": ["002"]}})";
  expect_refused("finetune", "x3", "--set splits=" + dir + "/bad_split.json", "042");
  EXPECT_FALSE(exists(dir + "/x3/checkpoints/final.safetensors"));
  // the k-NN probe of stage 1 with a single test volume
  std::ofstream(dir + "/one_test_split.json") << R"({"dataset": "acdc", "test": ["007"],
      "pretrain": {"name": "p", "train": ["001", "002", "003"], "val": ["005"]},
      "labeled": {"tr1": {"c1": {"train": ["001"], "val": ["005"]}}},
      "benchmark": {"name": "trall", "train": ["001"], "val": ["005"]}})";
  expect_refused("pretrain-global", "x4", "--set splits=" + dir + "/one_test_split.json", "global.knn_every");
  EXPECT_EQ(slurp(dir + "/x4/log.txt").find("step 1/"), std::string::npos);  // refused before training
}

}  // namespace
