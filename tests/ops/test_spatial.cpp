// maxpool2x2 (TF SAME, odd sizes), upsample2x, concat_channels.
#include <gtest/gtest.h>

#include "ops/spatial.h"
#include "ops/ops.h"
#include "op_check.h"

namespace cs {
namespace {

using test::check_op;
using test::op_ok;
using test::param;
using test::random_tensor;
using test::Vec;

// Copies and maxima are exact; gradients are sums of at most four terms.
constexpr double kFwdTol = 1e-7, kGradTol = 1e-5;

test::OpCheck pool_check(const Shape& xs, uint64_t seed) {
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
  expect_ok(test::check_op_directional([](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); },
                                       [=](const std::vector<Vec>& v) { return ref::maxpool2x2(v[0], p); },
                                       {param({2, 34, 31, 16}, 90)}, 91),
            "maxpool2x2");
  const ref::Nhwc u{2, 16, 17, 16};
  expect_ok(test::check_op_directional([](const std::vector<Tensor>& t) { return upsample2x(t[0]); },
                                       [=](const std::vector<Vec>& v) { return ref::upsample2x(v[0], u); },
                                       {param({2, 16, 17, 16}, 92)}, 93),
            "upsample2x");
  expect_ok(test::check_op_directional(
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
}  // namespace cs
