// ops/dispatch.h: an op with only a CPU kernel links in every build (CUDA or not) and refuses a
// CUDA tensor with a clear error; inputs on two devices are refused before any kernel runs.
// These tests need no GPU: a CUDA tensor here is a handle over no memory, which the checks
// reject before anything reads it.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "losses/segmentation.h"
#include "ops/dispatch.h"
#include "ops/ops.h"
#include "support/gradcheck.h"

namespace cs {

// A CPU-only kernel, declared the way an op header declares its kernels, with no cuda:: line.
using TwiceForward = void(const Tensor& x, Tensor& y);
namespace cpu {
TwiceForward twice_forward;
void twice_forward(const Tensor& x, Tensor& y) {
  for (int64_t i = 0; i < x.numel(); ++i) y.data()[i] = 2.0f * x.data()[i];
}
}  // namespace cpu

namespace test {
namespace {

// x, y same shape and device: y = 2x.
void twice_into(const Tensor& x, Tensor& y) {
  check_shape(y, x.shape(), "twice_into", "y");
  check_same_device(x, y, "twice_into");
  CS_DISPATCH_CPU_ONLY(x.device(), twice_forward, x, y);
}

// Claims the GPU, holds no memory.
Tensor on_cuda_without_memory(const Shape& s) {
  auto storage = std::make_shared<Storage>(Device::CUDA, nullptr, sizeof(float) * shape_numel(s));
  return Tensor::view_of(storage, 0, s);
}

TEST(Dispatch, CpuOnlyOpRunsOnTheCpu) {
  Tensor x = Tensor::from_vector({3}, {1, -2, 0.5f}), y = Tensor::empty({3});
  twice_into(x, y);
  EXPECT_EQ(y.to_vector(), (std::vector<float>{2, -4, 1}));
}

TEST(Dispatch, CpuOnlyOpRefusesACudaTensor) {
  Tensor x = on_cuda_without_memory({3}), y = on_cuda_without_memory({3});
  try {
    twice_into(x, y);
    FAIL() << "a CUDA tensor reached a CPU-only op";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("twice_forward: this op has no CUDA kernel"), std::string::npos)
        << e.what();
  }
}

TEST(Dispatch, InputsOnTwoDevicesAreRefused) {
  const Tensor x = random_tensor({1, 5, 5, 2}, 1), g = on_cuda_without_memory({2});
  Tensor rm = Tensor::zeros({2}), rv = Tensor::zeros({2});
  EXPECT_THROW(add(random_tensor({2, 3}, 2), on_cuda_without_memory({2, 3})), std::invalid_argument);
  EXPECT_THROW(mul(random_tensor({2, 3}, 2), on_cuda_without_memory({2, 3})), std::invalid_argument);
  EXPECT_THROW(conv2d(x, on_cuda_without_memory({4, 3, 3, 2})), std::invalid_argument);
  EXPECT_THROW(conv2d(x, random_tensor({4, 3, 3, 2}, 3), on_cuda_without_memory({4})), std::invalid_argument);
  EXPECT_THROW(batch_norm(x, g, Tensor::zeros({2}), rm, rv, true), std::invalid_argument);
  EXPECT_THROW(linear(random_tensor({3, 4}, 4), on_cuda_without_memory({2, 4})), std::invalid_argument);
  EXPECT_THROW(concat_channels(x, on_cuda_without_memory({1, 5, 5, 3})), std::invalid_argument);
  EXPECT_THROW(dice_loss(x, on_cuda_without_memory({1, 5, 5, 2})), std::invalid_argument);
}

}  // namespace
}  // namespace test
}  // namespace cs
