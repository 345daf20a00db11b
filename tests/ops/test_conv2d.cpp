// conv2d (stride 1, TF SAME): forward vs the double reference, gradients vs finite differences,
// beta accumulation, frozen parameters, the asymmetric 2x2 padding, bad shapes; then CUDA parity.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "op_check.h"
#include "ops/conv2d.h"
#include "ops/ops.h"
#include "parity_table.h"

namespace cs::test {
namespace {

// Checks conv2d on x [N,H,W,Cin] with a [Cout,KH,KW,Cin] kernel, with or without bias.
OpCheck conv_check(Shape xs, int64_t cout, int64_t kh, int64_t kw, bool bias, uint64_t seed,
                   bool x_grad = true, bool w_grad = true, bool b_grad = true) {
  Tensor x = random_tensor(xs, seed).set_requires_grad(x_grad);
  Tensor w = random_tensor({cout, kh, kw, xs[3]}, seed + 1).set_requires_grad(w_grad);
  std::vector<Tensor> in{x, w};
  if (bias) in.push_back(random_tensor({cout}, seed + 2).set_requires_grad(b_grad));
  const ref::Nhwc s{xs[0], xs[1], xs[2], xs[3]};
  return check_op(
      [](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor()); },
      [=](const std::vector<Vec>& v) { return ref::conv2d(v[0], s, v[1], cout, kh, kw, v.size() > 2 ? v[2] : Vec()); },
      in, seed + 3);
}

// Float convolutions over at most a few hundred terms: forward within 1e-5 of the largest
// output, gradients within 1e-4 of the largest gradient element.
constexpr double kFwdTol = 1e-5, kGradTol = 1e-4;

TEST(Conv2d, ThreeByThreeWithBias) {
  EXPECT_TRUE(op_ok(conv_check({2, 5, 6, 3}, 4, 3, 3, true, 10), kFwdTol, kGradTol));
}

TEST(Conv2d, TwoByTwoAsymmetricSame) {
  EXPECT_TRUE(op_ok(conv_check({2, 5, 4, 3}, 3, 2, 2, true, 20), kFwdTol, kGradTol));
}

TEST(Conv2d, OneByOneWithoutBias) {
  EXPECT_TRUE(op_ok(conv_check({2, 4, 4, 5}, 6, 1, 1, false, 30), kFwdTol, kGradTol));
}

TEST(Conv2d, OddSizesAndNonSquareKernel) {
  EXPECT_TRUE(op_ok(conv_check({1, 7, 3, 2}, 3, 3, 3, true, 40), kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(conv_check({2, 3, 5, 3}, 2, 3, 2, true, 50), kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(conv_check({1, 4, 4, 2}, 2, 4, 4, false, 55), kFwdTol, kGradTol));  // pads 1 before, 2 after
}

TEST(Conv2d, SpatialSmallerThanKernel) {
  EXPECT_TRUE(op_ok(conv_check({2, 1, 1, 3}, 2, 3, 3, true, 60), kFwdTol, kGradTol));
}

// Hand-computed: a 2x2 kernel of ones sums the window x[i..i+1, j..j+1], the row/column past
// the bottom/right edge being zero padding (TF SAME puts the single pad row there).
TEST(Conv2d, TwoByTwoPadsBottomRightOnly) {
  Tensor x = Tensor::from_vector({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = Tensor::full({1, 2, 2, 1}, 1.0f);
  const std::vector<float> y = conv2d(x, w).to_vector();
  const std::vector<float> want{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 3 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9, 6 + 9,
                                7 + 8, 8 + 9, 9};
  EXPECT_EQ(y, want);
}

// Channel counts of the UNet (multiples of 16) take oneDNN's blocked code paths; the input is
// too large for an element-wise finite-difference check, so gradients are checked along
// random directions.
TEST(Conv2d, WideChannelsDirectionalGradients) {
  const Shape xs{2, 9, 7, 32};
  const int64_t cout = 16;
  Tensor x = random_tensor(xs, 70).set_requires_grad(true);
  Tensor w = random_tensor({cout, 3, 3, 32}, 71, -0.2f, 0.2f).set_requires_grad(true);
  Tensor b = random_tensor({cout}, 72).set_requires_grad(true);
  const ref::Nhwc s{2, 9, 7, 32};
  auto f = [=](const std::vector<Vec>& v) { return ref::conv2d(v[0], s, v[1], cout, 3, 3, v[2]); };
  const std::vector<Vec> in{to_double(x), to_double(w), to_double(b)};
  Tensor y = conv2d(x, w, b);
  EXPECT_LT(normalized_error(f(in), to_double(y)), kFwdTol);
  const Vec dyv = random_vec(y.numel(), 73);
  Tensor loss = sum(mul(y, from_double(y.shape(), dyv)));
  backward(loss);
  EXPECT_LT(directional_error(f, in, dyv, 0, to_double(x.grad()), 3, 74), 1e-5);
  EXPECT_LT(directional_error(f, in, dyv, 1, to_double(w.grad()), 3, 75), 1e-5);
  EXPECT_LT(normalized_error(numeric_grad(f, in, dyv, 2), to_double(b.grad())), kGradTol);
}

TEST(Conv2d, FrozenWeightsGetNoGradient) {
  // w constant: only dx (and db) are computed; check_op also asserts w gets no gradient.
  EXPECT_TRUE(op_ok(conv_check({2, 4, 5, 3}, 4, 3, 3, true, 80, true, false, true), kFwdTol, kGradTol));
  // Only the bias learns: the bias gradient without the weight gradient.
  EXPECT_TRUE(op_ok(conv_check({2, 4, 5, 3}, 4, 3, 3, true, 81, false, false, true), kFwdTol, kGradTol));
  // Only the weights.
  EXPECT_TRUE(op_ok(conv_check({2, 4, 5, 3}, 4, 2, 2, true, 82, false, true, false), kFwdTol, kGradTol));
}

// Direct kernel calls: each output accumulates with its own beta, and null outputs are skipped.
TEST(Conv2d, BackwardKernelBetaPerOutput) {
  Tensor x = random_tensor({1, 4, 4, 3}, 90), w = random_tensor({2, 3, 3, 3}, 91);
  Tensor dy = random_tensor({1, 4, 4, 2}, 92);
  std::vector<float> dx(x.numel()), dw(w.numel()), db(2);
  cpu::conv2d_backward(x, w, dy, dx.data(), 0.f, dw.data(), 0.f, db.data(), 0.f);
  std::vector<float> dx2(x.numel(), 1.0f), dw2(w.numel(), 2.0f), db2(2, 3.0f);
  // dx accumulates, dw overwrites (its NaN garbage must not leak), db is skipped.
  std::fill(dw2.begin(), dw2.end(), std::numeric_limits<float>::quiet_NaN());
  cpu::conv2d_backward(x, w, dy, dx2.data(), 1.f, dw2.data(), 0.f, nullptr, 1.f);
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx2[i], dx[i] + 1.0f, 1e-5f);
  for (size_t i = 0; i < dw.size(); ++i) EXPECT_EQ(dw2[i], dw[i]);
  EXPECT_EQ(db2, std::vector<float>(2, 3.0f));
  // db accumulates alone.
  cpu::conv2d_backward(x, w, dy, nullptr, 0.f, nullptr, 0.f, db2.data(), 1.f);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(db2[i], db[i] + 3.0f, 1e-5f);
}

TEST(Conv2d, RepeatedCallsReuseTheCachedPlan) {
  Tensor x = random_tensor({2, 6, 6, 16}, 100), w = random_tensor({16, 3, 3, 16}, 101);
  Tensor b = random_tensor({16}, 102);
  const std::vector<float> y1 = conv2d(x, w, b).to_vector();
  conv2d(random_tensor({1, 5, 5, 16}, 103), w, b);  // another shape in between
  const std::vector<float> y2 = conv2d(x, w, b).to_vector();
  EXPECT_EQ(y1, y2);
  // Changed weights must be picked up (they are reordered at every call, not cached).
  Tensor w2 = scale(w, 2.0f);
  const std::vector<float> y3 = conv2d(x, w2).to_vector();
  const std::vector<float> y4 = conv2d(x, w).to_vector();
  for (size_t i = 0; i < y3.size(); i += 97) EXPECT_NEAR(y3[i], 2 * y4[i], 1e-4f);
}

TEST(Conv2d, BadShapesThrow) {
  Tensor x = random_tensor({1, 4, 4, 3}, 1);
  EXPECT_THROW(conv2d(x, random_tensor({2, 3, 3, 4}, 2)), std::invalid_argument);  // Cin mismatch
  EXPECT_THROW(conv2d(random_tensor({4, 4, 3}, 3), random_tensor({2, 3, 3, 3}, 2)), std::invalid_argument);
  EXPECT_THROW(conv2d(x, random_tensor({2, 3, 3}, 2)), std::invalid_argument);
  EXPECT_THROW(conv2d(x, random_tensor({2, 3, 3, 3}, 2), random_tensor({3}, 4)), std::invalid_argument);
  EXPECT_THROW(conv2d(x, Tensor::zeros({2, 0, 3, 3})), std::invalid_argument);  // empty kernel
  EXPECT_THROW(conv2d(Tensor(), random_tensor({2, 3, 3, 3}, 2)), std::invalid_argument);
}

}  // namespace
}  // namespace cs::test

// CUDA (cuDNN) conv2d parity cases (parity_table.h): odd kernels (symmetric padding), the 2x2
// up-conv (TF SAME pads bottom/right only: cuDNN runs with padding 1 and the first output
// row/column is cropped), 1x1 heads, with and without bias, and partial gradient requests.
namespace cs::cudatest {
namespace {

// cuDNN may pick Winograd, FFT or implicit-GEMM algorithms whose FP32 rounding differs from the
// CPU's summation order: 3e-4 of the largest magnitude (TF32 is off unless a case asks).
constexpr double kConvBound = 3e-4;

Tensor conv_b(const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2]); }
Tensor conv_nb(const std::vector<Tensor>& t) { return conv2d(t[0], t[1]); }

}  // namespace

Cases conv3x3_cases() {
  return {
      {"3x3, bias", conv_b, {input({2, 9, 7, 5}, 1), input({6, 3, 3, 5}, 2), input({6}, 3)}, kConvBound},
      {"3x3, no bias, Cin 1", conv_nb, {input({3, 8, 8, 1}, 4), input({4, 3, 3, 1}, 5)}, kConvBound},
      {"3x3, 16 -> 32 channels", conv_b,
       {input({2, 12, 12, 16}, 6), input({32, 3, 3, 16}, 7, -0.3f, 0.3f), input({32}, 8)}, kConvBound},
  };
}

Cases conv2x2_cases() {
  // Odd and even sizes: the padded row/column is at the bottom/right only.
  return {
      {"2x2, bias, 6x6", conv_b, {input({2, 6, 6, 8}, 9), input({4, 2, 2, 8}, 10), input({4}, 11)}, kConvBound},
      {"2x2, no bias, 5x7", conv_nb, {input({3, 5, 7, 3}, 12), input({2, 2, 2, 3}, 13)}, kConvBound},
      {"2x2, 1x1 image", conv_b, {input({2, 1, 1, 4}, 14), input({3, 2, 2, 4}, 15), input({3}, 16)}, kConvBound},
  };
}

Cases conv_other_kernels_cases() {
  return {
      {"1x1", conv_nb, {input({4, 5, 6, 7}, 17), input({3, 1, 1, 7}, 18)}, kConvBound},
      // 4x4: pads 1 before and 2 after (the general even-kernel case of the crop).
      {"4x4, bias", conv_b, {input({1, 7, 6, 2}, 19), input({3, 4, 4, 2}, 20), input({3}, 21)}, kConvBound},
      {"3x2 (cropped along W only)", conv_nb, {input({2, 6, 5, 3}, 22), input({2, 3, 2, 3}, 23)}, kConvBound},
  };
}

Cases conv_partial_gradients_cases() {
  // Only the weight (frozen input), only the input (frozen weight and bias), only the bias.
  return {
      {"w only", conv_b,
       {input({2, 6, 6, 4}, 24, -1, 1, false), input({5, 3, 3, 4}, 25), input({5}, 26, -1, 1, false)}, kConvBound},
      {"x only", conv_b,
       {input({2, 6, 6, 4}, 27), input({5, 2, 2, 4}, 28, -1, 1, false), input({5}, 29, -1, 1, false)}, kConvBound},
      {"bias only", conv_b,
       {input({2, 6, 6, 4}, 30, -1, 1, false), input({5, 2, 2, 4}, 31, -1, 1, false), input({5}, 32)}, kConvBound},
  };
}

Cases conv_tf32_cases() {
  // TF32 keeps 10 mantissa bits: the results stay close but not FP32-close.
  Cases c = {
      {"3x3 with TF32", conv_b, {input({2, 10, 10, 16}, 33), input({16, 3, 3, 16}, 34, -0.3f, 0.3f), input({16}, 35)},
       2e-2},
      {"2x2 with TF32", conv_b, {input({2, 6, 6, 16}, 36), input({8, 2, 2, 16}, 37), input({8}, 38)}, 2e-2},
  };
  for (ParityCase& k : c) k.tf32 = true;
  return c;
}

// The U-Net's own convolutions at ACDC's training batch (nn/unet.h: 20 x 192 x 192, channels 16,
// 32, 64, 128, 128, 128 down the encoder), where cuDNN's search picks other algorithms than at the
// small sizes above (implicit GEMM with split reductions, Winograd, FFT tiling). Weights are
// He-uniform (+-sqrt(6 / fan_in)), so every output is of order 1 as in the network. kConvBound
// still holds: the weight gradient sums N*H*W = 737280 products, and FP32 rounding over such a sum
// grows like sqrt(terms) * 6e-8 = 5e-5 of its magnitude, in any summation order. The CPU side
// (oneDNN) takes well under a second per case on 16 cores (the largest, 6.8 GFLOP forward).
namespace {

ParityCase unet_conv(const std::string& layer, int size, int cin, int cout, int k, bool bias, uint64_t seed) {
  const float a = std::sqrt(6.0f / static_cast<float>(k * k * cin));
  std::vector<Input> in = {input({20, size, size, cin}, seed), input({cout, k, k, cin}, seed + 1, -a, a)};
  if (bias) in.push_back(input({cout}, seed + 2));
  return {layer + ": " + shape_str(in[0].shape) + " * " + shape_str(in[1].shape), bias ? conv_b : conv_nb, in,
          kConvBound};
}

}  // namespace

Cases conv3x3_unet_encoder_cases() {
  return {unet_conv("enc_c1_a", 192, 1, 16, 3, true, 40),   unet_conv("enc_c1_b", 192, 16, 16, 3, true, 43),
          unet_conv("enc_c2_a", 96, 16, 32, 3, true, 46),    unet_conv("enc_c3_a", 48, 32, 64, 3, true, 49),
          unet_conv("enc_c4_a", 24, 64, 128, 3, true, 52),   unet_conv("enc_c5_a", 12, 128, 128, 3, true, 55),
          unet_conv("enc_c6_a", 6, 128, 128, 3, true, 58)};
}

Cases conv3x3_unet_decoder_cases() {
  // After each concat [up-conv, skip] (twice the block's channels), and the head's last layer.
  return {unet_conv("dec_c5_a", 12, 256, 128, 3, true, 61), unet_conv("dec_c3_a", 48, 128, 64, 3, true, 64),
          unet_conv("dec_c1_a", 192, 32, 16, 3, true, 67), unet_conv("seg_fin_layer", 192, 16, 4, 3, false, 70)};
}

Cases upconv2x2_unet_cases() {
  // Each decoder block's 2x2 up-convolution, on the upsampled features.
  return {unet_conv("dec_dc6", 12, 128, 128, 2, true, 73), unet_conv("dec_dc5", 24, 128, 128, 2, true, 76),
          unet_conv("dec_dc4", 48, 128, 64, 2, true, 79), unet_conv("dec_dc3", 96, 64, 32, 2, true, 82),
          unet_conv("dec_dc2", 192, 32, 16, 2, true, 85)};
}

}  // namespace cs::cudatest
