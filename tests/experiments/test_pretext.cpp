// The pretext tasks of stage pretrain-pretext (docs/method.md §8): each task's batch, that each
// learns its task on held-out phantom slices, and the stage through the `contraseg` command: a run
// folder for each task that fine-tuning starts from (with exactly the parts of the U-Net §8.4
// lists), resume, the probe, and clear errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/evaluation/pretext_probe.h"
#include "experiments/methods/pretext.h"
#include "experiments/pipeline/data.h"
#include "io/synth/synth.h"
#include "nn/safetensors.h"
#include "ops/ops.h"
#include "support/io_test_util.h"
#include "support/tiny_split.h"
#include "support/phantom_slices.h"
#include "support/step_test_util.h"

namespace cs {
namespace {

using testing_io::load_json;
using testing_io::read_text;
using testing_io::run_contraseg;
using testing_io::RunResult;
using testing_io::TempDir;
using testing_io::write_text;

// n slices [n][side][side] of distinct values: every pixel tells where it came from.
std::vector<float> numbered_slices(int n, int side) {
  std::vector<float> v(static_cast<size_t>(n) * side * side);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) + 0.5f;
  return v;
}

float at(const std::vector<float>& images, int image, int side, int r, int c) {
  return images[(static_cast<size_t>(image) * side + r) * side + c];
}

// ---- batches

TEST(PretextBatches, OneTurnIsCounterClockwise) {
  // 1 2        2 4
  // 3 4  ->    1 3   (the top-right corner comes to the top left)
  const float src[4] = {1, 2, 3, 4};
  float dst[4];
  rotate_quarter_turns(src, 2, 1, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 4), (std::vector<float>{2, 4, 1, 3}));
  rotate_quarter_turns(src, 2, 2, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 4), (std::vector<float>{4, 3, 2, 1}));
  rotate_quarter_turns(src, 2, 3, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 4), (std::vector<float>{3, 1, 4, 2}));
}

// Image 4k + r is slice k turned r quarter turns and labelled r: turned back by 4 - r quarter
// turns it is the slice again, one more turn at a time it is the next image of its slice, and the
// step's one-hot labels say r.
TEST(PretextBatches, RotationLabelsMatchTheTurnedImages) {
  constexpr int n = 3, side = 5;
  const auto slices = numbered_slices(n, side);
  const PretextBatch b = rotation_batch(slices.data(), n, side);
  ASSERT_EQ(b.images, 4 * n);
  ASSERT_EQ(b.turns.size(), static_cast<size_t>(4 * n));
  EXPECT_TRUE(b.target.empty());
  EXPECT_TRUE(b.mask.empty());
  const size_t px = side * side;
  std::vector<float> back(px), next(px);
  for (int k = 0; k < n; ++k)
    for (int r = 0; r < 4; ++r) {
      const int i = 4 * k + r;
      EXPECT_EQ(b.turns[i], r);
      const float* image = b.input.data() + i * px;
      rotate_quarter_turns(image, side, 4 - r, back.data());
      EXPECT_TRUE(std::equal(back.begin(), back.end(), slices.begin() + k * px)) << "image " << i;
      if (r < 3) {
        rotate_quarter_turns(image, side, 1, next.data());
        EXPECT_TRUE(std::equal(next.begin(), next.end(), b.input.begin() + (i + 1) * px)) << "image " << i;
      }
      if (r > 0) {
        EXPECT_FALSE(std::equal(image, image + px, slices.begin() + k * px)) << "image " << i;
      }
    }
  const StepBatch s = pretext_step_batch(b, Device::CPU);
  EXPECT_EQ(s.images.shape(), (Shape{4 * n, side, side, 1}));
  ASSERT_EQ(s.labels.shape(), (Shape{4 * n, 1, 1, 4}));
  EXPECT_FALSE(s.mask.defined());
  const auto one_hot = s.labels.to_vector();
  for (int i = 0; i < 4 * n; ++i)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(one_hot[i * 4 + c], c == b.turns[i] ? 1.f : 0.f) << i << " " << c;
}

// The squares of a draw are disjoint and inside the slice; after the swaps each square holds its
// partner's original pixels, and every other pixel is the original's.
TEST(PretextBatches, SwappedPatchesAreSwapsOfTheOriginals) {
  constexpr int n = 4, side = 32, patch = 3, swaps = 10;
  const auto slices = numbered_slices(n, side);
  Rng rng(11), replay = rng;  // the batch draws each slice's swaps in slice order: replay them
  const PretextBatch b = restoration_batch(slices.data(), n, side, patch, swaps, rng);
  ASSERT_EQ(b.images, n);
  EXPECT_EQ(b.target, slices);
  EXPECT_TRUE(b.turns.empty());
  EXPECT_TRUE(b.mask.empty());
  for (int k = 0; k < n; ++k) {
    const std::vector<PatchSwap> drawn = draw_patch_swaps(side, patch, swaps, replay);
    ASSERT_EQ(drawn.size(), static_cast<size_t>(swaps));
    std::vector<int> covered(side * side, 0);
    auto cover = [&](int r0, int c0) {
      ASSERT_TRUE(r0 >= 0 && c0 >= 0 && r0 + patch <= side && c0 + patch <= side) << r0 << "," << c0;
      for (int r = r0; r < r0 + patch; ++r)
        for (int c = c0; c < c0 + patch; ++c) ++covered[r * side + c];
    };
    for (const PatchSwap& s : drawn) {
      cover(s.row_a, s.col_a);
      cover(s.row_b, s.col_b);
      for (int dr = 0; dr < patch; ++dr)
        for (int dc = 0; dc < patch; ++dc) {
          EXPECT_EQ(at(b.input, k, side, s.row_a + dr, s.col_a + dc), at(slices, k, side, s.row_b + dr, s.col_b + dc));
          EXPECT_EQ(at(b.input, k, side, s.row_b + dr, s.col_b + dc), at(slices, k, side, s.row_a + dr, s.col_a + dc));
        }
    }
    EXPECT_EQ(*std::max_element(covered.begin(), covered.end()), 1) << "two patches overlap in slice " << k;
    EXPECT_EQ(std::count(covered.begin(), covered.end(), 1), 2 * swaps * patch * patch);
    for (int r = 0; r < side; ++r)
      for (int c = 0; c < side; ++c)
        if (!covered[r * side + c]) {
          EXPECT_EQ(at(b.input, k, side, r, c), at(slices, k, side, r, c)) << r << "," << c;
        }
  }
  // At the most the config allows (a quarter of the slice), the draw still finds room.
  Rng full(5);
  for (int t = 0; t < 50; ++t) EXPECT_EQ(draw_patch_swaps(32, 8, 2, full).size(), 2u);
  EXPECT_THROW(draw_patch_swaps(8, 5, 1, full), std::invalid_argument);  // two 5x5 never fit in 8x8
}

// The mask is 1 on one square of the stated side and 0 elsewhere; the input is the slice outside
// it and the mean of the visible pixels inside.
TEST(PretextBatches, TheMaskCoversWhatItSays) {
  constexpr int n = 5, side = 16, mask = 8;
  const auto slices = numbered_slices(n, side);
  Rng rng(3);
  const PretextBatch b = inpainting_batch(slices.data(), n, side, mask, rng);
  ASSERT_EQ(b.mask.size(), slices.size());
  EXPECT_EQ(b.target, slices);
  std::set<std::pair<int, int>> corners;
  for (int k = 0; k < n; ++k) {
    int r0 = side, c0 = side, r1 = -1, c1 = -1, ones = 0;
    double visible = 0;
    for (int r = 0; r < side; ++r)
      for (int c = 0; c < side; ++c) {
        const float m = at(b.mask, k, side, r, c);
        ASSERT_TRUE(m == 0.f || m == 1.f);
        if (m == 0.f) {
          EXPECT_EQ(at(b.input, k, side, r, c), at(slices, k, side, r, c));
          visible += at(slices, k, side, r, c);
          continue;
        }
        ++ones;
        r0 = std::min(r0, r), c0 = std::min(c0, c), r1 = std::max(r1, r), c1 = std::max(c1, c);
      }
    EXPECT_EQ(ones, mask * mask);
    EXPECT_EQ(r1 - r0 + 1, mask);  // one square: its bounding box is as large as its area says
    EXPECT_EQ(c1 - c0 + 1, mask);
    corners.insert({r0, c0});
    const float fill = static_cast<float>(visible / (side * side - mask * mask));
    for (int r = r0; r <= r1; ++r)
      for (int c = c0; c <= c1; ++c) EXPECT_NEAR(at(b.input, k, side, r, c), fill, 1e-3f * fill);
  }
  EXPECT_GT(corners.size(), 1u) << "the square is drawn at a random position";
  const StepBatch s = pretext_step_batch(b, Device::CPU);
  EXPECT_EQ(s.mask.to_vector(), b.mask);
  EXPECT_EQ(s.labels.to_vector(), b.target);
}

// The inpainting loss is the mean squared error over the masked pixels: what the network paints
// outside the mask changes neither the loss nor its gradient, which is zero there.
TEST(PretextBatches, TheInpaintingLossIgnoresEverythingOutsideTheMask) {
  constexpr int n = 2, side = 4;
  const std::vector<float> original = numbered_slices(n, side);
  std::vector<float> mask(original.size(), 0.f), restored = original;
  for (int k = 0; k < n; ++k)
    for (int r = 1; r < 3; ++r)
      for (int c = 0; c < 2; ++c) mask[(k * side + r) * side + c] = 1.f;
  double inside = 0;
  for (size_t i = 0; i < restored.size(); ++i) {
    restored[i] += mask[i] ? 0.25f * static_cast<float>(i % 3) : 100.f;  // far off outside
    if (mask[i]) inside += (restored[i] - original[i]) * (restored[i] - original[i]);
  }
  const double masked = n * 4;
  auto loss_and_grad = [&](const std::vector<float>& out) {
    Tensor x = Tensor::from_vector({n, side, side, 1}, out);
    x.set_requires_grad(true);
    Tensor l = reconstruction_loss(x, image_batch(original, n, side, side, Device::CPU),
                                   image_batch(mask, n, side, side, Device::CPU), masked);
    const double value = l.to_vector()[0];
    backward(l);
    return std::make_pair(value, x.grad().to_vector());
  };
  const auto [loss, grad] = loss_and_grad(restored);
  EXPECT_NEAR(loss, inside / masked, 1e-6);
  for (size_t i = 0; i < grad.size(); ++i) {
    if (mask[i]) {
      EXPECT_NEAR(grad[i], 2 * (restored[i] - original[i]) / masked, 1e-6) << i;
    } else {
      EXPECT_EQ(grad[i], 0.f) << i;
    }
  }
  std::vector<float> other = restored;
  for (size_t i = 0; i < other.size(); ++i)
    if (!mask[i]) other[i] = -7.f;
  EXPECT_EQ(loss_and_grad(other).first, loss);
  // Without a mask every pixel counts: the mean over all of them.
  Tensor all = reconstruction_loss(Tensor::from_vector({n, side, side, 1}, restored),
                                   image_batch(original, n, side, side, Device::CPU));
  double every = 0;
  for (size_t i = 0; i < restored.size(); ++i) every += (restored[i] - original[i]) * (restored[i] - original[i]);
  EXPECT_NEAR(all.to_vector()[0], every / restored.size(), 1e-3);
}

// ---- learning: each task on phantom slices, scored on volumes it never saw

using testing_phantom::phantom_stacks;

struct Learned {
  PretextProbeReading before, after;
  double seconds = 0;
};

// `steps` steps of the task on patients 1-14, read by the probe on patients 15-20 before and after.
Learned learn(const testing_step::ConfigKeys& keys, int steps) {
  // One thread: the figures do not depend on the machine's cores, and on a busy machine no thread
  // waits for another.
  testing_step::ConfigKeys all = {{"image_size", "32"}, {"target_res", "8"}, {"threads", "1"}};
  all.insert(all.end(), keys.begin(), keys.end());
  const Settings s = testing_step::small_settings(all);
  static const std::vector<SliceStack> pool = phantom_stacks(1, 14), held_out = phantom_stacks(15, 20);
  auto model = make_model(s, Stage::Pretext, Device::CPU);
  auto step = make_stage_step(Stage::Pretext, s, *model, pool);
  PretextProbe probe(held_out, s, Rng(1).split("probe"), Device::CPU);
  Learned l;
  l.before = probe.read(*model);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step->run(i);
  l.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  l.after = probe.read(*model);
  std::printf("[ pretext ] %s %d steps in %.1f s: probe %.4f -> %.4f (reference %.4f), %d held-out slices\n",
              s.method(Stage::Pretext).c_str(), steps, l.seconds, l.before.score, l.after.score, l.after.reference,
              probe.slices());
  return l;
}

// 50 steps of 4 slices in their 4 turns: held-out accuracy 0.84 here (0.76-0.86 with seeds 0-2 and
// the stage's own probe draw).
TEST(PretextLearning, RotationIsPredictedOnHeldOutSlices) {
  const Learned l = learn({{"pretext.task", "rotation"}, {"pretext.batch", "16"}}, 50);
  EXPECT_EQ(l.after.reference, 0.25);
  EXPECT_GT(l.after.score, 0.6) << "held-out rotation accuracy, chance 0.25";
}

// Copying the slice right takes a U-Net longer than finding the swapped patches: 200 steps of 8
// slices, at lr 0.003 and with 8 swaps of 4x4 patches (a quarter of the slice) so that there is
// something to restore at 32 x 32: held-out error 0.67 of the corrupted input's here (0.70-0.77 with
// seeds 0-2 and the stage's own probe draw).
TEST(PretextLearning, RestorationBeatsTheCorruptedInputOnHeldOutSlices) {
  const Learned l = learn({{"pretext.task", "restoration"},
                           {"pretext.batch", "8"},
                           {"pretext.patch", "4"},
                           {"pretext.swaps", "8"},
                           {"lr", "0.003"}},
                          200);
  EXPECT_GT(l.before.score, l.before.reference) << "the untrained network does worse than the corrupted input";
  EXPECT_LT(l.after.score, 0.9 * l.after.reference) << "held-out reconstruction error against the corrupted input's";
}

// 100 steps of 8 slices: held-out error inside the masks 0.60 of the mean fill's here (0.57-0.64 with
// seeds 0-2 and the stage's own probe draw).
TEST(PretextLearning, InpaintingBeatsTheCorruptedInputOnHeldOutSlices) {
  const Learned l = learn({{"pretext.task", "inpainting"}, {"pretext.batch", "8"}}, 100);
  EXPECT_GT(l.before.score, l.before.reference) << "the untrained network does worse than the mean fill";
  EXPECT_LT(l.after.score, 0.8 * l.after.reference) << "held-out error inside the masks against the mean fill's";
}

// ---- the stage through the command

const std::vector<std::string>& tasks() {
  static const std::vector<std::string> t = {"rotation", "restoration", "inpainting"};
  return t;
}

// The tensors of a run's final checkpoint, by name.
std::map<std::string, std::vector<float>> final_weights(const std::string& run) {
  const SafeTensorsReader r(run + "/checkpoints/final.safetensors");
  std::map<std::string, std::vector<float>> w;
  for (const auto& name : r.names()) w[name] = r.read_floats(name);
  return w;
}

// Whether the tensors named `prefix...` of two checkpoints are equal within `tol`; at least one
// is compared, and each exists in both.
void expect_same_tensors(const std::map<std::string, std::vector<float>>& a,
                         const std::map<std::string, std::vector<float>>& b, const std::string& prefix,
                         const std::string& suffix, float tol, const std::string& what) {
  int compared = 0;
  for (const auto& [name, values] : a) {
    if (name.rfind(prefix, 0) != 0 || name.size() < suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    const auto& other = b.at(name);
    ASSERT_EQ(values.size(), other.size()) << what << ": " << name;
    float worst = 0;
    for (size_t i = 0; i < values.size(); ++i) worst = std::max(worst, std::fabs(values[i] - other[i]));
    EXPECT_LE(worst, tol) << what << ": " << name;
    ++compared;
  }
  EXPECT_GT(compared, 0) << what << ": no tensor " << prefix << "*" << suffix;
}

// A phantom dataset, a tiny config, one pretext run of each task (its probe on every step) and a
// fine-tuning run from each, shared by the tests below. Fine-tuning runs at a rate of 1e-9 for one
// step, so that its weights are still those it started from, to the 8th digit.
class PretextCommand : public ::testing::Test {
 protected:
  static TempDir* tmp;
  static std::string data, args;  // args: --config and --data
  static std::map<std::string, RunResult> pretext, finetune;  // by task, "random": no init
  static std::string run_of(const std::string& task) { return *tmp / ("pretext_" + task); }
  static std::string finetune_of(const std::string& task) { return *tmp / ("ft_" + task); }
  static void SetUpTestSuite() {
    tmp = new TempDir;
    data = *tmp / "data";
    const RunResult r = run_contraseg("synth --out " + data + " --patients 8 --seed 3");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json split = cs::testing_io::tiny_split();
    write_text(data + "/splits.json", split.dump(2));
    const std::string config = *tmp / "tiny.json";
    write_text(config, R"({"dataset": "acdc", "image_size": 32, "target_res": 8.0, "log_every": 1,
      "checkpoint_every": 2, "threads": 1,
      "pretext": {"iterations": 4, "batch": 8, "probe_every": 1},
      "finetune": {"iterations": 1, "batch": 4, "val_every": 1, "lr": 1e-9}})");
    args = " --config " + config + " --data " + data + " --quiet";
    for (const std::string& task : tasks()) {
      pretext[task] = run_contraseg("pretrain-pretext" + args + " --set pretext.task=" + task + " --out " + run_of(task));
      finetune[task] = run_contraseg("finetune" + args + " --init " + run_of(task) + " --out " + finetune_of(task));
    }
    finetune["random"] = run_contraseg("finetune" + args + " --out " + finetune_of("random"));
  }
  static void TearDownTestSuite() { delete tmp; }
};
TempDir* PretextCommand::tmp = nullptr;
std::string PretextCommand::data, PretextCommand::args;
std::map<std::string, RunResult> PretextCommand::pretext, PretextCommand::finetune;

// Each task: a run folder like the other pre-training stages' (config, env, log with the probe
// before and after every step, checkpoints), fine-tuning from it, then its evaluation.
TEST_F(PretextCommand, EachTaskIsARunFolderThatFineTuningStartsFromAndEvaluates) {
  for (const std::string& task : tasks()) {
    SCOPED_TRACE(task);
    ASSERT_EQ(pretext[task].status, 0) << pretext[task].out << pretext[task].err;
    const std::string run = run_of(task);
    const auto config = load_json(run + "/config.json");
    EXPECT_EQ(config["stage"], "pretrain-pretext");
    EXPECT_EQ(config["pretext"]["task"], task);
    EXPECT_EQ(config["init"], "");
    EXPECT_EQ(load_json(run + "/env.json")["threads"], 1);
    for (const char* ck : {"final", "latest"})
      EXPECT_TRUE(std::filesystem::exists(run + "/checkpoints/" + ck + ".safetensors")) << ck;
    const std::string log = read_text(run + "/log.txt");
    EXPECT_NE(log.find("pretrain-pretext: " + task + ": "), std::string::npos) << log;
    EXPECT_NE(log.find("step 4/4 loss "), std::string::npos) << log;
    const std::string score = task == "rotation" ? " rotation_accuracy " : " reconstruction_mse ";
    for (int s = 0; s <= 4; ++s) EXPECT_NE(log.find(fmt::format("probe step {}{}", s, score)), std::string::npos) << log;
    for (const char* picture : {"pretext_step0.png", "pretext_step4.png"})  // the task's input, target and output
      EXPECT_TRUE(std::filesystem::exists(run + "/pictures/" + picture)) << picture;
    EXPECT_TRUE(load_json(run + "/probe.json").contains("readings"));  // the last reading, for a table

    ASSERT_EQ(finetune[task].status, 0) << finetune[task].out << finetune[task].err;
    const std::string ft = finetune_of(task), ft_log = read_text(ft + "/log.txt");
    const std::string from = task == "rotation" ? "encoder from " : "encoder + decoder blocks 1..5 from ";
    EXPECT_NE(ft_log.find(from + run + " (pretext task " + task + ")"), std::string::npos) << ft_log;
    EXPECT_TRUE(load_json(ft + "/eval/summary.json").contains("foreground_mean_dice"));
    const RunResult again = run_contraseg("evaluate --run " + ft + " --out " + *tmp / ("eval_" + task));
    EXPECT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(load_json(*tmp / ("eval_" + task) + "/summary.json")["cases"], 2);
  }
}

// What fine-tuning takes from each task (docs/method.md §8.4): the encoder always; the 5 decoder
// blocks from restoration and inpainting only; never the task's head, the segmentation head or
// the BN statistics. A part not taken starts as in a fine-tuning run from random initialisation.
TEST_F(PretextCommand, FineTuningTakesWhatTheTaskTrained) {
  ASSERT_EQ(finetune["random"].status, 0) << finetune["random"].err;
  const auto random = final_weights(finetune_of("random"));
  constexpr float kMoved = 1e-6f;  // one Adam step at a rate of 1e-9, and rounding
  for (const std::string& task : tasks()) {
    SCOPED_TRACE(task);
    ASSERT_EQ(finetune[task].status, 0) << finetune[task].err;
    const auto pre = final_weights(run_of(task)), ft = final_weights(finetune_of(task));
    expect_same_tensors(ft, pre, "enc_", ".w", kMoved, "encoder from the pretext run");
    expect_same_tensors(ft, pre, "enc_", ".bn.gamma", kMoved, "encoder BN from the pretext run");
    if (task == "rotation") {
      EXPECT_FALSE(pre.count("dec_dc6.w")) << "the rotation run trains no decoder";
      expect_same_tensors(ft, random, "dec_", ".w", kMoved, "decoder as from random initialisation");
    } else {
      expect_same_tensors(ft, pre, "dec_", ".w", kMoved, "decoder from the pretext run");
      expect_same_tensors(ft, pre, "dec_", ".b", kMoved, "decoder biases from the pretext run");
      EXPECT_TRUE(pre.count("rec_fin_layer.w"));
    }
    expect_same_tensors(ft, random, "seg_", ".w", kMoved, "segmentation head as from random initialisation");
    EXPECT_FALSE(ft.count("rot_pred.w") || ft.count("rec_fin_layer.w")) << "the task's head is not fine-tuned";
    // BN statistics start again (§4.1): after one step of decay 0.99 they are 1% of a batch's.
    EXPECT_NE(ft.at("enc_c1_a.bn.mean"), pre.at("enc_c1_a.bn.mean"));
  }
}

// A run killed after step 3 and resumed ends with the weights of the uninterrupted run, bit for bit.
TEST_F(PretextCommand, ResumeAfterAKillEndsWithTheSameWeights) {
  for (const std::string& task : tasks()) {
    SCOPED_TRACE(task);
    ASSERT_EQ(pretext[task].status, 0);
    const std::string out = *tmp / ("killed_" + task);
    const std::string cmd = "pretrain-pretext" + args + " --set pretext.task=" + task + " --out " + out;
    {
      ::setenv("CONTRASEG_KILL_AFTER_STEP", "3", 1);
      const RunResult killed = run_contraseg(cmd, CONTRASEG_KILLABLE_BINARY);
      ::unsetenv("CONTRASEG_KILL_AFTER_STEP");
      ASSERT_EQ(killed.status, 86) << killed.err;
    }
    EXPECT_FALSE(std::filesystem::exists(out + "/checkpoints/final.safetensors"));
    const RunResult resumed = run_contraseg(cmd + " --resume");
    ASSERT_EQ(resumed.status, 0) << resumed.err;
    EXPECT_NE(read_text(out + "/log.txt").find("resumed pretrain-pretext at step 2"), std::string::npos);
    const auto a = final_weights(run_of(task)), b = final_weights(out);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, values] : a) EXPECT_EQ(values, b.at(name)) << name;
  }
}

// The probe reads the model between steps: a run without it ends with the same weights, and its
// log has no probe lines.
TEST_F(PretextCommand, TheProbeLeavesTheWeightsAlone) {
  for (const std::string& task : tasks()) {
    SCOPED_TRACE(task);
    ASSERT_EQ(pretext[task].status, 0);
    const std::string out = *tmp / ("unprobed_" + task);
    const RunResult r = run_contraseg("pretrain-pretext" + args + " --set pretext.task=" + task +
                                      " --set pretext.probe_every=0 --out " + out);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(read_text(out + "/log.txt").find("probe step"), std::string::npos);
    const auto a = final_weights(run_of(task)), b = final_weights(out);
    for (const auto& [name, values] : a) EXPECT_EQ(values, b.at(name)) << name;
  }
}

// Misuse: an error that names the key or the run and the fix, before any folder is made.
TEST_F(PretextCommand, MisuseIsAClearErrorThatCreatesNothing) {
  const std::string out = *tmp / "refused";
  auto expect_refused = [&](const std::string& cmd, const std::vector<std::string>& said, int status = 1) {
    const RunResult r = run_contraseg(cmd + " --out " + out);
    EXPECT_EQ(r.status, status) << cmd << "\n" << r.out;
    for (const auto& s : said) EXPECT_NE(r.err.find(s), std::string::npos) << cmd << ":\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << cmd;
  };
  const std::string pretext_cmd = "pretrain-pretext" + args;
  expect_refused(pretext_cmd + " --set pretext.task=jigsaw",
                 {"pretext.task = 'jigsaw' is not one of the allowed values", "rotation|restoration|inpainting"});
  expect_refused(pretext_cmd + " --set pretext.task=rotation --set pretext.batch=6",
                 {"pretext.batch = '6' is not a multiple of 4", "pretext.batch=8"});
  expect_refused(pretext_cmd + " --set pretext.task=restoration --set pretext.swaps=50",
                 {"pretext.swaps = '50'", "more than a quarter of a 32x32 slice", "pretext.swaps in [1, 14]"});
  expect_refused(pretext_cmd + " --set pretext.task=restoration --set pretext.patch=9",
                 {"pretext.patch = '9'", "pretext.patch in [1, 8]"});
  expect_refused(pretext_cmd + " --init " + run_of("rotation"), {"unknown option --init"}, 2);
  // A pretext run is no stage-1 run: stage 2 says what it needs and where the run can go.
  ASSERT_EQ(pretext["restoration"].status, 0);
  expect_refused("pretrain-local" + args + " --init " + run_of("restoration"),
                 {"a pretrain-pretext run (pretext.task = restoration)", "a pretrain-global run",
                  "contraseg finetune --init " + run_of("restoration")});
  // Fine-tuning needs the geometry the pretext run was trained at.
  expect_refused("finetune" + args + " --init " + run_of("rotation") + " --set image_size=64",
                 {"--init " + run_of("rotation") + ": its image_size is '32', this run's is '64'"});
  // A finished run resumed with another task's key is refused, naming the key; the probe's
  // cadence may change.
  RunResult r = run_contraseg(pretext_cmd + " --set pretext.task=rotation --set pretext.swaps=5 --resume --out " +
                              run_of("rotation"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("pretext.swaps: 10 -> 5"), std::string::npos) << r.err;
  r = run_contraseg(pretext_cmd + " --set pretext.task=rotation --set pretext.probe_every=2 --resume --out " +
                    run_of("rotation"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("is finished; nothing to train"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace cs
