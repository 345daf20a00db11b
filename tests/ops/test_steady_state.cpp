// After a first training step, the next steps must not ask the system for memory (malloc on the
// CPU, cudaMalloc on the GPU): every temporary (the batch, activations, gradients, scratch of the
// reductions, cuDNN workspaces, bf16 operands) comes from the caching allocator's free lists.
// The steps are the stage steps that training runs (experiments/methods/stage_step.h), in every
// loss and precision below, so every op the method trains with takes part: the U-Net's
// convolutions, fused batch norm + ReLU, pooling and upsampling, the projection heads, the
// regions of stage 2, the contrastive and segmentation losses, and Adam.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "autograd/allocator.h"
#include "autograd/record_op.h"
#include "autograd/tape.h"
#include "experiments/config.h"
#include "experiments/methods/stage_step.h"
#include "experiments/settings.h"
#include "parity.h"
#include "support/step_test_util.h"

namespace cs {
namespace {

struct StepConfig {
  Stage stage;
  std::vector<std::pair<std::string, std::string>> keys;
};

// Every loss of each stage (paper and reference layouts) in fp32, and each stage in bf16 (whose
// convolutions and dense layers take bf16 operands or tensors); the pretext tasks in fp32.
std::vector<StepConfig> step_configs() {
  return {
      {Stage::Global, {{"global.loss", "gd"}}},
      {Stage::Global, {{"global.loss", "gr"}, {"compat", "reference"}}},
      {Stage::Local, {{"local.loss", "lr"}}},
      {Stage::Local, {{"local.loss", "ld"}, {"local.region", "1"}, {"compat", "reference"}}},
      {Stage::Finetune, {{"finetune.loss", "dice"}}},
      {Stage::Finetune, {{"finetune.loss", "wce"}}},
      {Stage::Global, {{"global.loss", "gd"}, {"precision", "bf16"}}},
      {Stage::Local, {{"local.loss", "lr"}, {"precision", "bf16"}}},
      {Stage::Finetune, {{"finetune.loss", "dice"}, {"precision", "bf16"}}},
      {Stage::Pretext, {{"pretext.task", "rotation"}, {"pretext.batch", "8"}}},
      {Stage::Pretext, {{"pretext.task", "restoration"}, {"pretext.batch", "4"}}},
      {Stage::Pretext, {{"pretext.task", "inpainting"}, {"pretext.batch", "4"}}},
  };
}

std::string name_of(const StepConfig& c) {
  std::string n = stage_name(c.stage);
  for (const auto& [k, v] : c.keys) n += " " + k + "=" + v;
  return n;
}

// The names of the ops a step runs.
struct OpNames : OpObserver {
  std::set<std::string> names;
  void begin(const OpEvent& e) override { names.insert(e.name); }
  void end(const OpEvent&) override {}
};

// Three steps of each configuration on device d: the second and the third take every block from
// the cache, and hold no more memory than the one before. Returns the names of the ops they ran.
std::set<std::string> expect_steady_state(Device d) {
  std::set<std::string> all_ops;
  for (const StepConfig& c : step_configs()) {
    SCOPED_TRACE(name_of(c));
    const Settings settings = testing_step::small_settings(c.keys);
    auto model = make_model(settings, c.stage, d);
    const auto stacks = random_stacks(6, 8, 64, model->config().num_classes, 5);
    const auto step = make_stage_step(c.stage, settings, *model, stacks);
    OpNames ops[3];
    AllocatorStats after[3];
    for (int s = 0; s < 3; ++s) {
      const testing_step::ObserverScope hear(&ops[s]);
      EXPECT_TRUE(std::isfinite(step->run(s))) << "step " << s;
      device_synchronize(d);
      after[s] = allocator_stats(d);
    }
    EXPECT_EQ(Tape::get().size(), 0u);
    EXPECT_GT(after[1].requests, after[0].requests) << "the step allocated nothing at all: the test measures nothing";
    EXPECT_EQ(after[1].device_allocs, after[0].device_allocs) << "the system allocator called in the second step";
    EXPECT_EQ(after[2].device_allocs, after[0].device_allocs) << "the system allocator called in the third step";
    EXPECT_EQ(after[2].bytes_in_use, after[1].bytes_in_use) << "memory held grows from step to step";
    EXPECT_EQ(ops[1].names, ops[0].names);  // the steps compared are alike
    EXPECT_EQ(ops[2].names, ops[0].names);
    all_ops.insert(ops[0].names.begin(), ops[0].names.end());
  }
  return all_ops;
}

// The ops only whole stage steps run, beside those of any network (convolutions, dense layers).
void expect_every_stage_op(const std::set<std::string>& ops) {
  for (const char* op : {"conv2d", "batch_norm_relu", "maxpool2x2", "upsample2x", "concat", "linear",
                         "extract_regions", "dice_loss", "weighted_cross_entropy"})
    EXPECT_EQ(ops.count(op), 1u) << op << " never ran";
  int contrastive = 0;
  for (const auto& op : ops) contrastive += op.rfind("ntxent_", 0) == 0;
  EXPECT_GE(contrastive, 4) << "a G^D, G^R, L^R and L^D loss op each";
}

TEST(SteadyState, StageStepsOnTheCpuAllocateOnlyInTheirFirstStep) {
  expect_every_stage_op(expect_steady_state(Device::CPU));
}

}  // namespace
}  // namespace cs

#ifdef CONTRASEG_CUDA
namespace cs::cudatest {
namespace {

TEST_F(Cuda, SteadyStateStepDoesNotAllocate) { expect_every_stage_op(expect_steady_state(Device::CUDA)); }

}  // namespace
}  // namespace cs::cudatest
#endif  // CONTRASEG_CUDA
