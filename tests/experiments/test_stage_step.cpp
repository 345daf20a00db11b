// The stage step (experiments/methods/stage_step.h): the one step definition that training,
// `contraseg profile` and the benchmarks run, built from the config.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/record_op.h"
#include "autograd/tape.h"
#include "experiments/methods/stage_step.h"
#include "support/step_test_util.h"

namespace cs {
namespace {

using testing_step::ObserverScope;

// Small settings (64x64 inputs, 2 threads) with `keys` set.
Settings small_config(testing_step::ConfigKeys keys) {
  keys.insert(keys.begin(), {"threads", "2"});
  return testing_step::small_settings(keys);
}

std::vector<float> values(const Tensor& t) { return t.to_vector(); }

// A model of `stage`, random stacks and the step over them.
struct Built {
  std::unique_ptr<UNet> model;
  std::vector<SliceStack> stacks;
  std::unique_ptr<StageStep> step;
};
Built build(Stage stage, const Settings& cfg) {
  Built b;
  b.model = make_model(cfg, stage, Device::CPU);
  b.stacks = random_stacks(6, 8, 64, b.model->config().num_classes, 3);
  b.step = make_stage_step(stage, cfg, *b.model, b.stacks);
  return b;
}

struct StepCase {
  Stage stage;
  std::vector<std::pair<std::string, std::string>> keys;
  int images;  // what the loss of that config takes
};

const std::vector<StepCase>& cases() {
  static const std::vector<StepCase> c = {
      {Stage::Global, {{"global.loss", "gd"}}, 3 * 4 * 2},
      {Stage::Global, {{"global.loss", "gd-"}}, 3 * 4 * 2},
      {Stage::Global, {{"global.loss", "gr"}}, 4 * 2},
      {Stage::Global, {{"global.loss", "gd"}, {"compat", "reference"}}, 48},
      {Stage::Global, {{"global.loss", "gd-"}, {"compat", "reference"}}, 36},
      {Stage::Local, {{"local.loss", "lr"}}, 3 * 2},
      {Stage::Local, {{"local.loss", "ld"}, {"local.region", "1"}, {"compat", "reference"}}, 24},
      {Stage::Finetune, {{"finetune.loss", "dice"}}, 4},
      {Stage::Finetune, {{"finetune.loss", "wce"}, {"finetune.augment", "false"}}, 4},
      {Stage::Pretext, {{"pretext.task", "rotation"}, {"pretext.batch", "8"}}, 8},
      {Stage::Pretext, {{"pretext.task", "restoration"}, {"pretext.batch", "3"}}, 3},
      {Stage::Pretext, {{"pretext.task", "inpainting"}, {"pretext.batch", "3"}}, 3},
  };
  return c;
}

std::string name_of(const StepCase& c) {
  std::string n = stage_name(c.stage);
  for (const auto& [k, v] : c.keys) n += " " + k + "=" + v;
  return n;
}

TEST(StageStep, EveryConfiguredStepTrainsWhatItsStageTrains) {
  for (const StepCase& c : cases()) {
    SCOPED_TRACE(name_of(c));
    Built built = build(c.stage, small_config(c.keys));
    UNet* model = built.model.get();
    StageStep* step = built.step.get();
    EXPECT_EQ(step->images_per_step(), c.images);
    EXPECT_EQ(step->stage(), c.stage);
    const std::string first_param = model->params().param_names("enc_").front();  // an encoder weight
    std::string last_param;  // a weight outside the encoder (g1, decoder, g2 or the head)
    for (const auto& n : model->params().param_names())
      if (n.rfind("enc_", 0) != 0) last_param = n;
    ASSERT_FALSE(last_param.empty());
    const auto enc_before = values(model->params().param(first_param));
    const auto head_before = values(model->params().param(last_param));
    const StepBatch b = step->sample(0);
    EXPECT_EQ(b.images.shape(), (Shape{c.images, 64, 64, 1}));
    EXPECT_EQ(b.labels.defined(), c.stage == Stage::Finetune || c.stage == Stage::Pretext);
    const double loss = step->train(b);
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_GT(loss, 0.0);
    EXPECT_NE(values(model->params().param(last_param)), head_before);
    // Stage 2 trains on the frozen encoder; the other stages train the encoder.
    if (c.stage == Stage::Local)
      EXPECT_EQ(values(model->params().param(first_param)), enc_before);
    else
      EXPECT_NE(values(model->params().param(first_param)), enc_before);
    EXPECT_EQ(Tape::get().size(), 0u);  // backward released the tape
  }
}

TEST(StageStep, TheBatchOfAStepIsAPureFunctionOfTheStep) {
  for (const StepCase& c : cases()) {
    SCOPED_TRACE(name_of(c));
    Built built = build(c.stage, small_config(c.keys));
    StageStep* step = built.step.get();
    const auto a = values(step->sample(5).images);
    step->sample(6);
    EXPECT_EQ(values(step->sample(5).images), a);
    EXPECT_NE(values(step->sample(6).images), a);
  }
}

// paper mode normalises the frozen encoder with its stage-1 statistics; reference mode uses batch
// statistics and keeps updating the moving averages (docs/method.md §3.1).
TEST(StageStep, Stage2EncoderStatisticsFollowTheMode) {
  for (const char* mode : {"paper", "reference"}) {
    SCOPED_TRACE(mode);
    Built built = build(Stage::Local, small_config({{"compat", mode}}));
    UNet* model = built.model.get();
    StageStep* step = built.step.get();
    const std::string bn = model->params().buffer_names("enc_").front();
    const auto before = values(model->params().buffer(bn));
    step->run(0);
    EXPECT_EQ(values(model->params().buffer(bn)) == before, std::string(mode) == "paper") << bn;
  }
}

struct PhaseLog : StepPhases {
  std::vector<std::string> events;
  void phase_begin(const std::string& p) override { events.push_back("+" + p); }
  void phase_end(const std::string& p) override { events.push_back("-" + p); }
};

TEST(StageStep, RunReportsItsPhasesInOrder) {
  Built built = build(Stage::Finetune, small_config({}));
  StageStep* step = built.step.get();
  PhaseLog log;
  step->run(0, &log);
  EXPECT_EQ(log.events, (std::vector<std::string>{"+data", "-data", "+forward", "-forward", "+backward", "-backward",
                                                  "+optimizer", "-optimizer"}));
}

// Adam's first step moves every weight with a gradient by about the learning rate (m / sqrt(v) is
// +-1 there), so the largest first-step change shows the rate each stage trains with.
double largest_first_step_change(Stage stage, const Settings& cfg) {
  Built b = build(stage, cfg);
  std::vector<std::vector<float>> before;
  const auto names = b.model->params().param_names();
  for (const auto& n : names) before.push_back(values(b.model->params().param(n)));
  b.step->run(0);
  double largest = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto after = values(b.model->params().param(names[i]));
    for (size_t j = 0; j < after.size(); ++j) largest = std::max(largest, std::fabs(double(after[j]) - before[i][j]));
  }
  return largest;
}

TEST(StageStep, FinetuneLrSetsTheRateOfFineTuningOnly) {
  const Settings own = small_config({{"lr", "0.001"}, {"finetune.lr", "0.0002"}});
  EXPECT_NEAR(largest_first_step_change(Stage::Finetune, own), 0.0002, 1e-5);
  EXPECT_NEAR(largest_first_step_change(Stage::Global, own), 0.001, 5e-5);
  EXPECT_NEAR(largest_first_step_change(Stage::Finetune, small_config({{"lr", "0.001"}})), 0.001, 5e-5);
}

TEST(StageStep, FineTuningNeedsLabelledStacks) {
  const Settings cfg = small_config({});
  auto model = make_model(cfg, Stage::Finetune, Device::CPU);
  std::vector<SliceStack> unlabelled(2, SliceStack(4, 64, 64, false));
  EXPECT_THROW(make_stage_step(Stage::Finetune, cfg, *model, unlabelled), std::invalid_argument);
  EXPECT_THROW(make_stage_step(Stage::Finetune, cfg, *model, {}), std::invalid_argument);
  EXPECT_THROW(parse_stage("pretrain"), std::invalid_argument);
}

}  // namespace
}  // namespace cs

namespace cs {
namespace {

// Re-estimated BN statistics are the mean of the per-batch statistics of the latest batches.
TEST(StageStep, EstimatedBnStatisticsAreTheMeanOverTheBatches) {
  Built built = build(Stage::Finetune, small_config({}));
  ParamStore& ps = built.model->params();
  const std::string mean = ps.buffer_names("dec_").front();
  std::vector<float> sum;
  for (int s : {7, 6, 5}) {  // one batch each: the statistics of that batch alone
    estimate_bn_statistics(*built.step, s, 1);
    const auto m = values(ps.buffer(mean));
    if (sum.empty()) sum.assign(m.size(), 0.f);
    for (size_t i = 0; i < m.size(); ++i) sum[i] += m[i] / 3;
  }
  estimate_bn_statistics(*built.step, 7, 3);
  const auto avg = values(ps.buffer(mean));
  for (size_t i = 0; i < avg.size(); ++i) EXPECT_NEAR(avg[i], sum[i], 1e-4f * (1 + std::fabs(sum[i]))) << i;
  const auto one = values(ps.buffer(mean));
  estimate_bn_statistics(*built.step, 7, 1);
  EXPECT_NE(values(ps.buffer(mean)), one);  // step 7 alone differs from the mean of three
  Built global = build(Stage::Global, small_config({}));
  EXPECT_THROW(estimate_bn_statistics(*global.step, 3, 2), std::invalid_argument);
}

}  // namespace
}  // namespace cs

namespace cs {
namespace {

// The ops that read the compute precision (autograd/precision.h): convolutions and dense layers.
bool takes_precision(const char* op) { return std::string(op) == "conv2d" || std::string(op) == "linear"; }

// Hears every op of a step and keeps the precision each convolution and dense layer ran its
// forward pass in (their tape nodes keep it for the backward).
struct PrecisionLog : OpObserver {
  std::vector<Precision> seen;
  void begin(const OpEvent& e) override {
    if (!e.backward && takes_precision(e.name)) seen.push_back(compute_precision());
  }
  void end(const OpEvent&) override {}
};

// Every weight of the model, in the store's order.
std::vector<std::vector<float>> all_weights(UNet& model) {
  std::vector<std::vector<float>> w;
  for (const auto& n : model.params().param_names()) w.push_back(values(model.params().param(n)));
  return w;
}

struct TrainedStep {
  std::vector<Precision> precisions;  // of the convolutions and dense layers, in order
  double loss = 0;
  std::vector<std::vector<float>> weights;  // after the step
};

// One step of `stage` in `precision`, from the settings' initialisation and on the batch of step 0.
TrainedStep train_once(Stage stage, const char* precision) {
  Built b = build(stage, small_config({{"precision", precision}}));
  const StepBatch batch = b.step->sample(0);
  PrecisionLog log;
  TrainedStep t;
  {
    const ObserverScope hear(&log);
    t.loss = b.step->train(batch);
  }
  t.precisions = log.seen;
  t.weights = all_weights(*b.model);
  return t;
}

// A step in bf16 runs its convolutions and dense layers in bf16, which the weights show: from the
// same initialisation and batch, two fp32 steps agree to the bit and a bf16 step does not.
TEST(StageStep, TheConfiguredPrecisionIsThePrecisionTheStepTrainsIn) {
  for (Stage stage : all_stages()) {
    SCOPED_TRACE(stage_name(stage));
    const TrainedStep fp32 = train_once(stage, "fp32"), again = train_once(stage, "fp32"),
                      bf16 = train_once(stage, "bf16");
    ASSERT_FALSE(fp32.precisions.empty()) << "the step ran no convolution or dense layer";
    ASSERT_EQ(bf16.precisions.size(), fp32.precisions.size());
    auto ran_in = [](const std::vector<Precision>& v, Precision p) { return std::count(v.begin(), v.end(), p); };
    EXPECT_EQ(ran_in(fp32.precisions, Precision::FP32), static_cast<std::ptrdiff_t>(fp32.precisions.size()))
        << "convolutions and dense layers of the fp32 step that ran in fp32, of " << fp32.precisions.size();
    EXPECT_EQ(ran_in(bf16.precisions, Precision::BF16), static_cast<std::ptrdiff_t>(bf16.precisions.size()))
        << "convolutions and dense layers of the bf16 step that ran in bf16, of " << bf16.precisions.size();
    EXPECT_EQ(compute_precision(), Precision::FP32) << "the step left its precision behind";
    // fp32 is deterministic here, so any difference below comes from the precision.
    EXPECT_EQ(again.loss, fp32.loss);
    EXPECT_TRUE(again.weights == fp32.weights) << "two fp32 steps from the same start differ";
    EXPECT_NE(bf16.loss, fp32.loss) << "the bf16 loss is the fp32 loss to the bit";
    EXPECT_TRUE(bf16.weights != fp32.weights) << "the bf16 step left the weights of the fp32 step to the bit";
    // ... and the two losses stay close: bf16 operands, fp32 accumulation and loss.
    EXPECT_NEAR(bf16.loss, fp32.loss, 5e-2 * std::fabs(fp32.loss));
  }
}

}  // namespace
}  // namespace cs
