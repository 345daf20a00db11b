#pragma once
// The fixture of every test that needs a GPU (test_ops' parity table, test_gpu): it skips the test
// when no CUDA device is visible, and with one turns TF32 off, so that cuDNN computes in plain
// FP32 like the CPU path. Every such test has "Cuda" in its suite name: scripts/gpu-check.sh
// selects the GPU tests by it and fails when one of them skips on a GPU machine.
#include <gtest/gtest.h>

namespace cs::cudatest {

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override;
};

}  // namespace cs::cudatest
