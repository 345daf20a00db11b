// CUDA (cuDNN) conv2d parity with the CPU conv: odd kernels (symmetric padding), the 2x2
// up-conv (TF SAME pads bottom/right only: cuDNN runs with padding 1 and the first output
// row/column is cropped), 1x1 heads, with and without bias, and partial gradient requests.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "parity.h"
#ifdef CONTRASEG_CUDA
#include "ops/cuda/conv_plan.h"
#endif

namespace cs::cudatest {
namespace {

// cuDNN may pick Winograd, FFT or implicit-GEMM algorithms whose FP32 rounding differs from the
// CPU's summation order: 3e-4 of the largest magnitude (TF32 is off in these tests).
constexpr double kConvBound = 3e-4;

Tensor conv_b(const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2]); }
Tensor conv_nb(const std::vector<Tensor>& t) { return conv2d(t[0], t[1]); }

TEST_F(Cuda, Conv3x3Parity) {
  expect_parity("3x3, bias", conv_b, {input({2, 9, 7, 5}, 1), input({6, 3, 3, 5}, 2), input({6}, 3)},
                kConvBound);
  expect_parity("3x3, no bias, Cin 1", conv_nb, {input({3, 8, 8, 1}, 4), input({4, 3, 3, 1}, 5)}, kConvBound);
  expect_parity("3x3, 16 -> 32 channels", conv_b,
                {input({2, 12, 12, 16}, 6), input({32, 3, 3, 16}, 7, -0.3f, 0.3f), input({32}, 8)},
                kConvBound);
}

TEST_F(Cuda, Conv2x2AsymmetricPaddingParity) {
  // Odd and even sizes: the padded row/column is at the bottom/right only.
  expect_parity("2x2, bias, 6x6", conv_b, {input({2, 6, 6, 8}, 9), input({4, 2, 2, 8}, 10), input({4}, 11)},
                kConvBound);
  expect_parity("2x2, no bias, 5x7", conv_nb, {input({3, 5, 7, 3}, 12), input({2, 2, 2, 3}, 13)}, kConvBound);
  expect_parity("2x2, 1x1 image", conv_b, {input({2, 1, 1, 4}, 14), input({3, 2, 2, 4}, 15), input({3}, 16)},
                kConvBound);
}

TEST_F(Cuda, Conv1x1AndEvenLargerKernelsParity) {
  expect_parity("1x1", conv_nb, {input({4, 5, 6, 7}, 17), input({3, 1, 1, 7}, 18)}, kConvBound);
  // 4x4: pads 1 before and 2 after (the general even-kernel case of the crop).
  expect_parity("4x4, bias", conv_b, {input({1, 7, 6, 2}, 19), input({3, 4, 4, 2}, 20), input({3}, 21)},
                kConvBound);
  expect_parity("3x2 (cropped along W only)", conv_nb, {input({2, 6, 5, 3}, 22), input({2, 3, 2, 3}, 23)},
                kConvBound);
}

TEST_F(Cuda, ConvPartialGradients) {
  // Only the weight (frozen input), only the input (frozen weight and bias), only the bias.
  expect_parity(
      "w only", conv_b,
      {input({2, 6, 6, 4}, 24, -1, 1, false), input({5, 3, 3, 4}, 25), input({5}, 26, -1, 1, false)},
      kConvBound);
  expect_parity(
      "x only", conv_b,
      {input({2, 6, 6, 4}, 27), input({5, 2, 2, 4}, 28, -1, 1, false), input({5}, 29, -1, 1, false)},
      kConvBound);
  expect_parity(
      "bias only", conv_b,
      {input({2, 6, 6, 4}, 30, -1, 1, false), input({5, 2, 2, 4}, 31, -1, 1, false), input({5}, 32)},
      kConvBound);
}

#ifdef CONTRASEG_CUDA
// TF32 keeps 10 mantissa bits: the results stay close but not FP32-close.
TEST_F(Cuda, ConvTf32Parity) {
  cuda::set_conv_tf32(true);
  expect_parity("3x3 with TF32", conv_b,
                {input({2, 10, 10, 16}, 33), input({16, 3, 3, 16}, 34, -0.3f, 0.3f), input({16}, 35)}, 2e-2);
  expect_parity("2x2 with TF32", conv_b, {input({2, 6, 6, 16}, 36), input({8, 2, 2, 16}, 37), input({8}, 38)},
                2e-2);
  cuda::set_conv_tf32(false);
}
#endif

}  // namespace
}  // namespace cs::cudatest
