// CUDA against CPU over whole training steps (step_parity.h, cases in step_cases.h): the U-Net's
// forward and backward alone at ACDC's geometry, and one step of every method of every stage
// (stage 1 G^D and G^R in paper and reference mode, stage 2 L^R and L^D, stage 3 Dice and
// weighted cross-entropy). Each test runs its case on both devices from the same seed and batch,
// in fp32 with TF32 off (the Cuda fixture), and compares the loss, every gradient by name, every
// parameter after Adam and the BN running statistics. It prints each quantity's worst error, so
// that a first run on a GPU shows how much room the tolerances leave. Skips without a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "gpu/step_cases.h"
#include "support/cuda_fixture.h"

namespace cs::steptest {
namespace {

using CudaStep = cudatest::Cuda;

void expect_step_parity(const StepCase& c, const Tolerances& tol = step_tolerances()) {
  const StepOutcome want = outcome_on(Device::CPU, c);
  const StepOutcome got = outcome_on(Device::CUDA, c);
  const Comparison cmp = compare(got, want, tol);
  std::printf("%s: loss cuda %.9g cpu %.9g\n%s", c.name.c_str(), got.loss, want.loss, cmp.summary.c_str());
  std::string listed;
  for (const std::string& m : cmp.mismatches) listed += "\n  " + m;
  EXPECT_TRUE(cmp.mismatches.empty()) << c.name << ":" << listed;
}

// The loss of the U-Net alone, sum(logits * r) over 2.9 million terms of random sign, is a small
// difference of large sums: the proxy of step_tolerances() moves it by 1.8e-5, the stand-in by
// 9.2e-4.
TEST_F(CudaStep, UNetForwardAndBackward) {
  Tolerances tol = step_tolerances();
  tol.loss = 5e-3;
  expect_step_parity(unet_case(), tol);
}

TEST_F(CudaStep, Stage1GdPaper) {
  expect_step_parity(stage_case("stage 1, G^D, paper", Stage::Global, {{"global.loss", "gd"}}));
}
TEST_F(CudaStep, Stage1GdReference) {
  expect_step_parity(
      stage_case("stage 1, G^D, reference", Stage::Global, {{"global.loss", "gd"}, {"compat", "reference"}}));
}
TEST_F(CudaStep, Stage1GrPaper) {
  expect_step_parity(stage_case("stage 1, G^R, paper", Stage::Global, {{"global.loss", "gr"}}));
}
TEST_F(CudaStep, Stage1GrReference) {
  expect_step_parity(
      stage_case("stage 1, G^R, reference", Stage::Global, {{"global.loss", "gr"}, {"compat", "reference"}}));
}

// L^R in paper mode: the frozen encoder normalises with its running statistics; L^D in reference
// mode on 1x1 regions: batch statistics, whose moving averages keep updating (docs/method.md §3.1).
TEST_F(CudaStep, Stage2LrPaper) {
  expect_step_parity(stage_case("stage 2, L^R, paper", Stage::Local, {{"local.loss", "lr"}}));
}
TEST_F(CudaStep, Stage2LdReference) {
  expect_step_parity(stage_case("stage 2, L^D, reference, 1x1 regions", Stage::Local,
                                {{"local.loss", "ld"}, {"local.region", "1"}, {"compat", "reference"}}));
}

TEST_F(CudaStep, Stage3Dice) {
  expect_step_parity(stage_case("stage 3, Dice", Stage::Finetune, {{"finetune.loss", "dice"}}));
}
TEST_F(CudaStep, Stage3WeightedCrossEntropy) {
  expect_step_parity(stage_case("stage 3, weighted CE", Stage::Finetune, {{"finetune.loss", "wce"}}));
}

}  // namespace
}  // namespace cs::steptest
