// bf16 activations (autograd/tensor.h: DType::BF16): the tensor type itself, the cast op, and
// each op with a bf16 kernel (batch norm, the spatial ops, conv2d) against the same op in fp32
// on the same bf16 values. The kernels do the fp32 op's arithmetic and round once where they
// write, so a data-moving op (pool, upsample, concat) must agree exactly and the others within
// one bf16 rounding of the fp32 result, in values and gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/unet.h"
#include "op_check.h"
#include "ops/ops.h"
#include "ops/precision.h"

namespace cs::test {
namespace {

// Random values that are bf16 numbers, so the fp32 and the bf16 run read the same inputs.
Tensor bf16_values(const Shape& s, uint64_t seed) { return bf16_rounded(random_tensor(s, seed)); }

struct Result {
  std::vector<float> y, dx;
  DType y_type;
};

// y = f(x) with x the given values in type t; the loss sum(fp32(y) * w) sends w back as dy.
Result run(const std::function<Tensor(const Tensor&)>& f, const Tensor& values, DType t, const Tensor& w) {
  Tape::get().clear();
  Tensor x = t == DType::F32 ? values.clone() : cast(values, t);
  x.set_requires_grad(true);
  const Tensor y = f(x);
  Tensor loss = sum(mul(cast(y, DType::F32), w));
  backward(loss);
  Result r{y.to_vector(), x.grad().to_vector(), y.dtype()};
  Tape::get().clear();
  return r;
}

// Each bf16 value is the fp32 value rounded once: within half a bf16 step (2^-9 relative), with
// a step's slack for a different order of the same additions.
::testing::AssertionResult within_one_rounding(const std::vector<float>& bf, const std::vector<float>& f,
                                                const char* what) {
  if (bf.size() != f.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  for (size_t i = 0; i < f.size(); ++i) {
    const double tol = std::ldexp(std::fabs(f[i]), -8) + 1e-6;
    if (!(std::fabs(static_cast<double>(bf[i]) - f[i]) <= tol))
      return ::testing::AssertionFailure() << what << "[" << i << "]: bf16 " << bf[i] << ", fp32 " << f[i];
  }
  return ::testing::AssertionSuccess();
}

// f on fp32 and on bf16 activations of the same values; exact: data-moving ops must agree bit
// for bit.
void compare(const std::function<Tensor(const Tensor&)>& f, const Shape& x_shape, const Shape& y_shape, bool exact) {
  const Tensor x = bf16_values(x_shape, 11), w = bf16_values(y_shape, 12);
  const Result a = run(f, x, DType::F32, w), b = run(f, x, DType::BF16, w);
  EXPECT_EQ(b.y_type, DType::BF16);
  if (exact) {
    EXPECT_EQ(b.y, a.y);
    EXPECT_EQ(b.dx, bf16_rounded(Tensor::from_vector(x_shape, a.dx)).to_vector());
  } else {
    EXPECT_TRUE(within_one_rounding(b.y, a.y, "y"));
    EXPECT_TRUE(within_one_rounding(b.dx, a.dx, "dx"));
  }
}

TEST(Bf16Tensor, HoldsTwoBytesAndConvertsOnTheWayOut) {
  const Tensor v = bf16_values({3, 5}, 1);
  const Tensor h = cast(v, DType::BF16);
  EXPECT_EQ(h.dtype(), DType::BF16);
  EXPECT_EQ(h.nbytes(), 30u);
  EXPECT_EQ(h.to_vector(), v.to_vector());  // bf16 values survive the round trip exactly
  EXPECT_EQ(h.clone().dtype(), DType::BF16);
  EXPECT_EQ(h.reshape({15}).dtype(), DType::BF16);
  EXPECT_EQ(cast(h, DType::F32).to_vector(), v.to_vector());
  EXPECT_TRUE(cast(v, DType::F32).same(v));  // already fp32: the tensor itself
}

TEST(Bf16Tensor, ReadingTheWrongTypeSaysSo) {
  const Tensor h = cast(random_tensor({2, 4}, 2), DType::BF16);
  try {
    (void)h.data();
    FAIL() << "data() on a bf16 tensor did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("is bf16, read as fp32"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)random_tensor({2}, 3).data_bf16(), std::logic_error);
  Tensor f = Tensor::empty({2, 4});
  EXPECT_THROW(f.copy_from(h), std::invalid_argument);
  EXPECT_THROW(relu(h), std::logic_error);  // an op without a bf16 kernel
  EXPECT_THROW(concat_channels(h.reshape({1, 1, 2, 4}), random_tensor({1, 1, 2, 4}, 4)), std::invalid_argument);
}

TEST(Bf16Tensor, CastRoundsToNearestAndItsGradientAccumulates) {
  const Tensor x = random_tensor({64}, 5);
  EXPECT_EQ(cast(x, DType::BF16).to_vector(), bf16_rounded(x).to_vector());
  // Two uses of one bf16 tensor: its fp32 gradient is the sum of both, in fp32.
  Tape::get().clear();
  Tensor xg = x.clone();
  xg.set_requires_grad(true);
  const Tensor h = cast(xg, DType::BF16);
  Tensor loss = add(sum(cast(h, DType::F32)), sum(scale(cast(h, DType::F32), 0.5f)));
  backward(loss);
  for (float g : xg.grad().to_vector()) EXPECT_EQ(g, 1.5f);
  Tape::get().clear();
}

TEST(Bf16Activations, PoolUpsampleConcatMoveTheSameBits) {
  compare([](const Tensor& x) { return maxpool2x2(x); }, {2, 7, 6, 5}, {2, 4, 3, 5}, true);
  compare([](const Tensor& x) { return upsample2x(x); }, {2, 3, 4, 5}, {2, 6, 8, 5}, false);
  // concat with itself: both halves' gradients accumulate into x (the second write has beta 1).
  compare([](const Tensor& x) { return concat_channels(x, x); }, {2, 3, 4, 5}, {2, 3, 4, 10}, false);
}

TEST(Bf16Activations, BatchNormWithinOneRounding) {
  for (bool relu : {false, true})
    for (bool training : {true, false})
      for (int64_t C : {3, 16, 48}) {
        SCOPED_TRACE("relu " + std::to_string(relu) + ", training " + std::to_string(training) + ", C " +
                     std::to_string(C));
        Tensor gamma = random_tensor({C}, 21, 0.5f, 1.5f), beta = random_tensor({C}, 22);
        compare(
            [&](const Tensor& x) {
              Tensor rm = Tensor::zeros({C}), rv = Tensor::full({C}, 1.5f);
              return relu ? batch_norm_relu(x, gamma, beta, rm, rv, training)
                          : batch_norm(x, gamma, beta, rm, rv, training);
            },
            {2, 9, 7, C}, {2, 9, 7, C}, false);
      }
}

TEST(Bf16Activations, ConvMatchesTheBf16KernelsOnFp32Tensors) {
  if (!native_bf16(Device::CPU)) GTEST_SKIP() << bf16_description(Device::CPU);
  PrecisionScope bf16(Precision::BF16);
  const Tensor w = bf16_values({8, 3, 3, 5}, 31), b = random_tensor({8}, 32);
  // The reference: the same bf16 kernels, reading fp32 tensors and writing fp32 results.
  compare([&](const Tensor& x) { return conv2d(x, w, b); }, {2, 12, 10, 5}, {2, 12, 10, 8}, false);
  EXPECT_THROW(
      {
        PrecisionScope fp32(Precision::FP32);
        conv2d(cast(random_tensor({1, 4, 4, 5}, 33), DType::BF16), w, b);
      },
      std::invalid_argument);
}

// In a bf16 step on a CPU with bf16 kernels, the layers pass bf16 activations and the heads
// return fp32.
TEST(Bf16Activations, UNetRunsBf16InsideAndReturnsFp32) {
  if (!native_bf16(Device::CPU)) GTEST_SKIP() << bf16_description(Device::CPU);
  UNetConfig cfg;
  cfg.image_size = 32;
  UNet net(cfg);
  int bf16_layers = 0, layers = 0;
  net.set_layer_observer([&](const LayerSpec&, const Tensor& y) {
    ++layers;
    bf16_layers += y.dtype() == DType::BF16;
  });
  PrecisionScope bf16(Precision::BF16);
  const Tensor logits = net.forward(random_tensor({2, 32, 32, 1}, 8), RunMode::training());
  EXPECT_EQ(logits.dtype(), DType::F32);
  EXPECT_GT(layers, 20);
  EXPECT_EQ(bf16_layers, layers);
}

}  // namespace
}  // namespace cs::test
