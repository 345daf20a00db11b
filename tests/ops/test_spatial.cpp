// maxpool2x2 (TF SAME, odd sizes), upsample2x, concat_channels; then CUDA parity.
#include <gtest/gtest.h>

#include <cmath>

#include "op_check.h"
#include "ops/spatial.h"
#include "ops/ops.h"
#include "parity_table.h"

namespace cs::test {
namespace {

// Copies and maxima are exact; gradients are sums of at most four terms.
constexpr double kFwdTol = 1e-7, kGradTol = 1e-5;

OpCheck pool_check(const Shape& xs, uint64_t seed) {
  const ref::Nhwc s{xs[0], xs[1], xs[2], xs[3]};
  return check_op([](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); },
                  [=](const std::vector<Vec>& v) { return ref::maxpool2x2(v[0], s); }, {param(xs, seed)},
                  seed + 1);
}

TEST(Maxpool2x2, EvenSizes) { EXPECT_TRUE(op_ok(pool_check({2, 4, 6, 3}, 10), kFwdTol, kGradTol)); }

TEST(Maxpool2x2, OddSizesPadBottomRight) {
  EXPECT_TRUE(op_ok(pool_check({2, 5, 3, 2}, 20), kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(pool_check({1, 1, 1, 4}, 30), kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(pool_check({1, 3, 7, 17}, 40), kFwdTol, kGradTol));
}

TEST(Maxpool2x2, OutputShapeIsCeil) {
  EXPECT_EQ(maxpool2x2(random_tensor({1, 5, 3, 2}, 1)).shape(), (Shape{1, 3, 2, 2}));
  EXPECT_EQ(maxpool2x2(random_tensor({2, 4, 4, 1}, 1)).shape(), (Shape{2, 2, 2, 1}));
}

// Ties: the gradient goes to the first element of the window in row-major order, once.
TEST(Maxpool2x2, TiesRouteToFirstElement) {
  Tensor x = Tensor::from_vector({1, 2, 3, 1}, {5, 7, 1, 7, 7, 2}).set_requires_grad(true);
  Tensor y = maxpool2x2(x);
  EXPECT_EQ(y.to_vector(), (std::vector<float>{7, 2}));
  Tensor loss = sum(mul(y, Tensor::from_vector({1, 1, 2, 1}, {10, 20})));
  backward(loss);
  // Window 1 covers (0,0)=5 (0,1)=7 (1,0)=7 (1,1)=7: the first 7 is (0,1). Window 2 is the
  // clipped last column (0,2)=1, (1,2)=2.
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0, 10, 0, 0, 0, 20}));
}

// Every tie pattern of a full 2x2 window at once, one per channel (32 channels: the vectorised
// path), in the kernel's overwrite (beta 0) and accumulate (beta 1) forms. Channel c has the
// max at the window elements whose bit is set in c % 16 (all four when that is 0).
TEST(Maxpool2x2, EveryTiePatternOfAFullWindow) {
  constexpr int64_t C = 32;
  std::vector<float> xv(4 * C), gv(C);
  for (int64_t c = 0; c < C; ++c) {
    const int64_t pattern = c % 16 == 0 ? 15 : c % 16;
    for (int64_t e = 0; e < 4; ++e) xv[e * C + c] = (pattern >> e & 1) ? 3.0f : -1.0f - e;
    gv[c] = 1.0f + c;
  }
  const Tensor x = Tensor::from_vector({1, 2, 2, C}, xv), g = Tensor::from_vector({1, 1, 1, C}, gv);
  Tensor y = Tensor::empty({1, 1, 1, C});
  cpu::maxpool2x2_forward(x, y);
  for (float beta : {0.0f, 1.0f}) {
    std::vector<float> dx(4 * C, 0.5f);
    cpu::maxpool2x2_backward(x, y, g, dx.data(), beta);
    for (int64_t c = 0; c < C; ++c) {
      const int64_t pattern = c % 16 == 0 ? 15 : c % 16;
      int64_t first = 0;
      while (!(pattern >> first & 1)) ++first;
      for (int64_t e = 0; e < 4; ++e)
        EXPECT_EQ(dx[e * C + c], beta * 0.5f + (e == first ? gv[c] : 0.0f))
            << "channel " << c << ", element " << e << ", beta " << beta;
    }
  }
}

TEST(Upsample2x, ForwardAndGradient) {
  for (const Shape& xs : {Shape{2, 3, 2, 3}, Shape{1, 1, 5, 2}}) {
    const ref::Nhwc s{xs[0], xs[1], xs[2], xs[3]};
    EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return upsample2x(t[0]); },
                               [=](const std::vector<Vec>& v) { return ref::upsample2x(v[0], s); },
                               {param(xs, 50)}, 51),
                      kFwdTol, kGradTol));
  }
}

TEST(ConcatChannels, ForwardAndGradients) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return concat_channels(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::concat_channels(v[0], 3, v[1], 2); },
                             {param({2, 3, 2, 3}, 60), param({2, 3, 2, 2}, 61)}, 62),
                    kFwdTol, kGradTol));
  // Only one side requires grad.
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return concat_channels(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::concat_channels(v[0], 1, v[1], 4); },
                             {random_tensor({1, 2, 2, 1}, 63), param({1, 2, 2, 4}, 64)}, 65),
                    kFwdTol, kGradTol));
}

// Sizes above the threading threshold, odd widths included.
TEST(Spatial, ThreadedSizesMatchReference) {
  auto expect_ok = [](const std::vector<double>& r, const char* what) {
    EXPECT_LT(r[0], kFwdTol) << what;
    for (size_t i = 1; i < r.size(); ++i) EXPECT_LT(r[i], 1e-4) << what << ", input " << i - 1;
  };
  const ref::Nhwc p{2, 34, 31, 16};
  expect_ok(check_op_directional([](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); },
                                 [=](const std::vector<Vec>& v) { return ref::maxpool2x2(v[0], p); },
                                 {param({2, 34, 31, 16}, 90)}, 91),
            "maxpool2x2");
  const ref::Nhwc u{2, 16, 17, 16};
  expect_ok(check_op_directional([](const std::vector<Tensor>& t) { return upsample2x(t[0]); },
                                 [=](const std::vector<Vec>& v) { return ref::upsample2x(v[0], u); },
                                 {param({2, 16, 17, 16}, 92)}, 93),
            "upsample2x");
  expect_ok(check_op_directional(
                [](const std::vector<Tensor>& t) { return concat_channels(t[0], t[1]); },
                [](const std::vector<Vec>& v) { return ref::concat_channels(v[0], 16, v[1], 8); },
                {param({2, 32, 32, 16}, 94), param({2, 32, 32, 8}, 95)}, 96),
            "concat_channels");
}

TEST(Spatial, BadShapesThrow) {
  EXPECT_THROW(maxpool2x2(random_tensor({4, 4, 3}, 1)), std::invalid_argument);
  EXPECT_THROW(upsample2x(random_tensor({2, 4, 4, 3, 1}, 1)), std::invalid_argument);
  EXPECT_THROW(concat_channels(random_tensor({1, 4, 4, 3}, 1), random_tensor({1, 4, 5, 3}, 2)),
               std::invalid_argument);
  EXPECT_THROW(concat_channels(random_tensor({2, 4, 4, 3}, 1), random_tensor({1, 4, 4, 3}, 2)),
               std::invalid_argument);
  EXPECT_THROW(concat_channels(random_tensor({4, 4, 3}, 1), random_tensor({4, 4, 3}, 2)), std::invalid_argument);
}

}  // namespace
}  // namespace cs::test

// CUDA parity cases (parity_table.h) of the spatial ops: 2x2 max pool (even and odd sizes, ties),
// nearest x2 upsample and channel concat.
namespace cs::cudatest {

Cases maxpool_cases() {
  const OpFn pool = [](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); };
  return {
      {"maxpool 8x6", pool, {input({2, 8, 6, 3}, 1)}},
      {"maxpool 7x5 (clipped windows)", pool, {input({2, 7, 5, 4}, 2)}},
      {"maxpool 1x1", pool, {input({3, 1, 1, 2}, 3)}},
      {"maxpool 64 channels", pool, {input({1, 6, 6, 64}, 4)}},
  };
}

Cases maxpool_ties_cases() {
  // Values on a coarse grid: most windows hold ties, and the gradient must go to the first
  // (row-major) maximum on both devices.
  Input in = input({2, 6, 7, 3}, 5, -2.0f, 2.0f);
  for (float& v : in.values) v = std::round(v);
  return {{"maxpool with ties", [](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); }, {in}}};
}

Cases upsample_cases() {
  const OpFn up = [](const std::vector<Tensor>& t) { return upsample2x(t[0]); };
  return {
      {"upsample 3x5", up, {input({2, 3, 5, 4}, 6)}},
      {"upsample 1x1, 33 channels", up, {input({1, 1, 1, 33}, 7)}},
  };
}

Cases concat_cases() {
  const OpFn cat = [](const std::vector<Tensor>& t) { return concat_channels(t[0], t[1]); };
  return {
      {"concat 3+5", cat, {input({2, 4, 3, 3}, 8), input({2, 4, 3, 5}, 9)}},
      {"concat 16+16", cat, {input({1, 5, 5, 16}, 10), input({1, 5, 5, 16}, 11)}},
      {"concat, a only", cat, {input({2, 3, 3, 2}, 12), input({2, 3, 3, 7}, 13, -1, 1, false)}},
      {"concat, b only", cat, {input({2, 3, 3, 2}, 14, -1, 1, false), input({2, 3, 3, 7}, 15)}},
  };
}

Cases decoder_block_cases() {
  // The UNet decoder's pattern: upsample, 2x2 conv, concat with the skip, 3x3 conv.
  const OpFn block = [](const std::vector<Tensor>& t) {
    Tensor u = conv2d(upsample2x(t[0]), t[1], t[2]);
    return relu(conv2d(concat_channels(u, t[3]), t[4]));
  };
  return {{"decoder block", block,
           {input({2, 3, 4, 8}, 16), input({4, 2, 2, 8}, 17), input({4}, 18), input({2, 6, 8, 4}, 19),
            input({5, 3, 3, 8}, 20)},
           3e-4}};
}

}  // namespace cs::cudatest
