// bf16 (autograd/precision.h, ops/precision.h): rounding to bf16; conv2d and linear in bf16
// against fp32 on bf16-rounded operands (what a bf16 kernel with fp32 accumulation computes)
// and against plain fp32 (the size of the bf16 error); the precision a tape node keeps; then
// CUDA parity of the rounding and of a bf16 conv.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>

#include "op_check.h"
#include "ops/conv2d.h"
#include "ops/dense.h"
#include "ops/ops.h"
#include "ops/precision.h"
#include "parity_table.h"

namespace cs::test {
namespace {

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

TEST(Bf16, RoundsToNearestTiesToEven) {
  const float ulp1 = std::ldexp(1.0f, -7);  // bf16 spacing in [1, 2): 7 stored mantissa bits
  EXPECT_EQ(round_to_bf16(1.0f), 1.0f);
  EXPECT_EQ(round_to_bf16(1.0f + ulp1 / 2), 1.0f);                   // tie, 1.0 is even
  EXPECT_EQ(round_to_bf16(1.0f + 3 * ulp1 / 2), 1.0f + 2 * ulp1);    // tie, 1 + 2 ulp is even
  EXPECT_EQ(round_to_bf16(1.0f + ulp1 / 2 + std::ldexp(1.0f, -20)), 1.0f + ulp1);  // above the tie
  EXPECT_EQ(round_to_bf16(-1.0f - ulp1 / 4), -1.0f);
  EXPECT_EQ(round_to_bf16(0.0f), 0.0f);
  EXPECT_EQ(bits(round_to_bf16(-0.0f)), bits(-0.0f));
  EXPECT_TRUE(std::isinf(round_to_bf16(std::numeric_limits<float>::max())));  // beyond bf16's largest
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_to_bf16(from_bits(0x7f800001u))));  // a NaN whose payload is all low bits
}

// Over many random floats of all magnitudes: the result is a bf16 (low 16 bits zero), no bf16
// is nearer, and the CPU kernel agrees with the scalar function.
TEST(Bf16, KernelMatchesTheScalarAndIsTheNearest) {
  Tensor x = random_tensor({4096}, 7, -1.0f, 1.0f);
  std::vector<float> v = x.to_vector();
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::ldexp(v[i], static_cast<int>(i % 60) - 30);
  x = Tensor::from_vector({4096}, v);
  const std::vector<float> r = bf16_rounded(x).to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(bits(r[i]) & 0xffffu, 0u) << v[i];
    ASSERT_EQ(r[i], round_to_bf16(v[i]));
    const float below = from_bits(bits(r[i]) - 0x10000u), above = from_bits(bits(r[i]) + 0x10000u);
    const double err = std::fabs(static_cast<double>(v[i]) - r[i]);
    EXPECT_LE(err, std::fabs(static_cast<double>(v[i]) - below)) << v[i];
    EXPECT_LE(err, std::fabs(static_cast<double>(v[i]) - above)) << v[i];
  }
}

struct Grads {
  std::vector<float> y, dx, dw, db;
};

// conv2d (or linear, when b is undefined and conv is false) forward and backward under `p`.
Grads run_conv(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& dy, Precision p, bool conv) {
  Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
  Tensor b = b0.defined() ? b0.clone().set_requires_grad(true) : Tensor();
  Tensor y;
  {
    const PrecisionScope scope(p);
    y = conv ? conv2d(x, w, b) : linear(x, w);
  }
  Tensor loss = sum(mul(y, dy));  // backward outside the scope: the node kept its precision
  backward(loss);
  return {y.to_vector(), x.grad().to_vector(), w.grad().to_vector(), b.defined() ? b.grad().to_vector() : std::vector<float>{}};
}

// What a bf16 kernel with fp32 accumulation computes: fp32 on bf16-rounded x, w and dy (the bias
// stays fp32; its gradient is the sum of the rounded dy).
Grads run_rounded(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy, bool conv) {
  return run_conv(bf16_rounded(x), bf16_rounded(w), b, bf16_rounded(dy), Precision::FP32, conv);
}

double error(const std::vector<float>& want, const std::vector<float>& got) {
  return normalized_error(Vec(want.begin(), want.end()), Vec(got.begin(), got.end()));
}

// The largest error of a against b over the output and the gradients.
double worst(const Grads& a, const Grads& b) {
  double e = std::max(error(b.y, a.y), std::max(error(b.dx, a.dx), error(b.dw, a.dw)));
  if (!a.db.empty()) e = std::max(e, error(b.db, a.db));
  return e;
}

// Summation order (a bf16 kernel's blocking) is all that may differ from fp32 on rounded operands.
constexpr double kOrderTol = 1e-5;
// bf16 against fp32: each operand is off by up to 2^-9 relatively; over hundreds of terms of
// mixed sign the output error stays near 2^-9 of the largest output. Bound with margin: 1e-2.
constexpr double kBf16Tol = 1e-2;

void check_bf16(const Shape& xs, const Shape& ws, bool bias, bool conv, uint64_t seed) {
  Tensor x = random_tensor(xs, seed), w = random_tensor(ws, seed + 1);
  Tensor b = bias ? random_tensor({ws[0]}, seed + 2) : Tensor();
  Shape ys = xs;
  ys.back() = ws[0];
  Tensor dy = random_tensor(ys, seed + 3);
  const Grads bf = run_conv(x, w, b, dy, Precision::BF16, conv);
  const Grads rounded = run_rounded(x, w, b, dy, conv);
  const Grads fp = run_conv(x, w, b, dy, Precision::FP32, conv);
  const bool exact = !conv || !native_bf16(Device::CPU);  // emulated: the very same fp32 kernels
  if (exact) {
    EXPECT_EQ(bf.y, rounded.y);
    EXPECT_EQ(bf.dx, rounded.dx);
    EXPECT_EQ(bf.dw, rounded.dw);
    EXPECT_EQ(bf.db, rounded.db);
  } else {
    EXPECT_LT(worst(bf, rounded), kOrderTol);
  }
  const double e = worst(bf, fp);
  std::printf("[bf16] %s x %s: bf16 vs fp32 %.2e (bound %.0e)\n", conv ? "conv2d" : "linear", shape_str(xs).c_str(), e,
              kBf16Tol);
  EXPECT_LT(e, kBf16Tol);
  EXPECT_GT(e, 1e-5) << "bf16 gave fp32's results: the operands were not rounded";
}

TEST(Bf16, Conv2dIsFp32OnRoundedOperands) {
  check_bf16({2, 9, 7, 16}, {8, 3, 3, 16}, true, true, 10);
  check_bf16({3, 8, 8, 32}, {16, 2, 2, 32}, false, true, 20);
  check_bf16({2, 6, 6, 1}, {16, 3, 3, 1}, true, true, 30);  // the first layer's shape
}

TEST(Bf16, LinearIsFp32OnRoundedOperands) { check_bf16({12, 128}, {32, 128}, false, false, 40); }

TEST(Bf16, Fp32IsTheDefaultAndScopesNest) {
  EXPECT_EQ(compute_precision(), Precision::FP32);
  {
    const PrecisionScope a(Precision::BF16);
    EXPECT_EQ(compute_precision(), Precision::BF16);
    {
      const PrecisionScope b(Precision::FP32);
      EXPECT_EQ(compute_precision(), Precision::FP32);
    }
    EXPECT_EQ(compute_precision(), Precision::BF16);
  }
  EXPECT_EQ(compute_precision(), Precision::FP32);
  EXPECT_EQ(parse_precision("bf16"), Precision::BF16);
  EXPECT_THROW(parse_precision("fp16"), std::invalid_argument);
}

TEST(Bf16, DescribesWhatRuns) {
  const CpuBf16 c = cpu_bf16();
  EXPECT_FALSE(c.isa.empty());
  const std::string d = bf16_description(Device::CPU);
  EXPECT_NE(d.find(c.isa), std::string::npos) << d;
  EXPECT_NE(d.find(c.native ? "native" : "emulated"), std::string::npos) << d;
}

}  // namespace
}  // namespace cs::test

// CUDA parity cases (parity_table.h): the rounding and a bf16 conv against the CPU.
namespace cs::cudatest {

Cases bf16_rounding_cases() {
  return {{"bf16_rounded", [](const std::vector<Tensor>& t) { return bf16_rounded(t[0]); },
           {input({4096}, 3, -100.0f, 100.0f, false)}, 0.0}};  // exact
}

Cases bf16_conv2d_cases() {
  const OpFn conv = [](const std::vector<Tensor>& t) {
    const PrecisionScope bf16(Precision::BF16);
    return conv2d(t[0], t[1], t[2]);
  };
  return {{"bf16 conv [2,9,7,16] * [8,3,3,16]", conv, {input({2, 9, 7, 16}, 1), input({8, 3, 3, 16}, 2), input({8}, 3)}}};
}

// linear in bf16 (ops/dense.cpp): x, w and, backward, dy rounded to bf16 on either device, then the
// fp32 GEMMs. The products of bf16 values are exact in fp32, so only the order of the fp32
// additions differs: the fp32 bound (1e-4). g1 at 192x192 (reg_nn1 [48, 4608] -> 1024, reg_pred
// 1024 -> 128) and L^R's region layer (g2_pred [rows, 9 * 64] -> 128) on its weight only.
Cases bf16_linear_cases() {
  const OpFn lin = [](const std::vector<Tensor>& t) {
    const PrecisionScope bf16(Precision::BF16);
    return linear(t[0], t[1]);
  };
  return {{"bf16 linear [48,4608] -> 1024", lin, {input({48, 4608}, 4), input({1024, 4608}, 5, -0.033f, 0.033f)}},
          {"bf16 linear [48,1024] -> 128", lin, {input({48, 1024}, 6), input({128, 1024}, 7, -0.07f, 0.07f)}},
          {"bf16 linear [520,576] -> 128, w only", lin,
           {input({520, 576}, 8, -1, 1, false), input({128, 576}, 9, -0.09f, 0.09f)}}};
}

}  // namespace cs::cudatest
