// relu, add, mul, scale, sum, mean, reshape, flatten; then CUDA parity.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "op_check.h"
#include "ops/pointwise.h"
#include "ops/ops.h"
#include "ops/dispatch.h"
#include "parity_table.h"

namespace cs::test {
namespace {

constexpr double kFwdTol = 1e-6, kGradTol = 1e-5;

TEST(Relu, ForwardAndGradient) {
  // Large enough for the threaded path, still cheap to difference element by element.
  const OpCheck r = check_op([](const std::vector<Tensor>& t) { return relu(t[0]); },
                             [](const std::vector<Vec>& v) { return ref::relu(v[0]); },
                             {param({2, 4, 5, 3}, 1)}, 2);
  EXPECT_TRUE(op_ok(r, kFwdTol, kGradTol));
}

TEST(Relu, ThreadedSizeMatchesReference) {
  Tensor x = random_tensor({40000}, 3);
  EXPECT_EQ(normalized_error(ref::relu(to_double(x)), to_double(relu(x))), 0.0);
}

TEST(Add, ForwardAndGradients) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return add(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::add(v[0], v[1]); },
                             {param({3, 4}, 10), param({3, 4}, 11)}, 12),
                    kFwdTol, kGradTol));
  // One constant operand.
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return add(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::add(v[0], v[1]); },
                             {random_tensor({5}, 13), param({5}, 14)}, 15),
                    kFwdTol, kGradTol));
}

TEST(Add, SameTensorTwiceAccumulates) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return add(t[0], t[0]); },
                             [](const std::vector<Vec>& v) { return ref::add(v[0], v[0]); },
                             {param({2, 3}, 16)}, 17),
                    kFwdTol, kGradTol));
}

TEST(Mul, ForwardAndGradients) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return mul(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::mul(v[0], v[1]); },
                             {param({2, 3, 4}, 20), param({2, 3, 4}, 21)}, 22),
                    kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return mul(t[0], t[0]); },
                             [](const std::vector<Vec>& v) { return ref::mul(v[0], v[0]); },
                             {param({7}, 23)}, 24),
                    kFwdTol, kGradTol));
}

TEST(Scale, ForwardAndGradient) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return scale(t[0], -2.5f); },
                             [](const std::vector<Vec>& v) { return ref::scale(v[0], -2.5); },
                             {param({4, 3}, 30)}, 31),
                    kFwdTol, kGradTol));
}

TEST(Sum, ForwardAndGradient) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return sum(t[0]); },
                             [](const std::vector<Vec>& v) { return Vec{ref::sum(v[0])}; },
                             {param({3, 5}, 40)}, 41),
                    kFwdTol, kGradTol));
}

TEST(Sum, LargeInputAccumulatesInDouble) {
  // 1e6 values of 0.1f: a float accumulator would drift visibly; the result must be within
  // float rounding of the exact sum of the float values.
  const int64_t n = 1000000;
  Tensor x = Tensor::full({n}, 0.1f);
  const double want = static_cast<double>(0.1f) * n;
  EXPECT_NEAR(sum(x).to_vector()[0], want, want * 1e-7);
}

TEST(Mean, ForwardAndGradient) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return mean(t[0]); },
                             [](const std::vector<Vec>& v) { return Vec{ref::sum(v[0]) / v[0].size()}; },
                             {param({2, 2, 3}, 50)}, 51),
                    kFwdTol, kGradTol));
}

TEST(Reshape, ForwardAndGradient) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return reshape(t[0], {6, 2}); },
                             [](const std::vector<Vec>& v) { return v[0]; }, {param({2, 3, 2}, 60)}, 61),
                    kFwdTol, kGradTol));
  Tensor x = param({2, 3, 2}, 62);
  EXPECT_EQ(reshape(x, {3, 4}).shape(), (Shape{3, 4}));
}

TEST(Flatten, ForwardAndGradient) {
  Tensor x = param({2, 3, 2, 2}, 70);
  EXPECT_EQ(flatten(x).shape(), (Shape{2, 12}));
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return flatten(t[0]); },
                             [](const std::vector<Vec>& v) { return v[0]; }, {x}, 71),
                    kFwdTol, kGradTol));
}

TEST(Pointwise, ThreadedSizesMatchReference) {
  const Shape s{40000};
  std::vector<double> r = check_op_directional(
      [](const std::vector<Tensor>& t) { return mul(add(t[0], t[1]), scale(relu(t[1]), 0.5f)); },
      [](const std::vector<Vec>& v) { return ref::mul(ref::add(v[0], v[1]), ref::scale(ref::relu(v[1]), 0.5)); },
      {param(s, 80), param(s, 81)}, 82);
  EXPECT_LT(r[0], kFwdTol);
  EXPECT_LT(r[1], kGradTol);
  EXPECT_LT(r[2], kGradTol);
  r = check_op_directional([](const std::vector<Tensor>& t) { return mean(t[0]); },
                           [](const std::vector<Vec>& v) { return Vec{ref::sum(v[0]) / v[0].size()}; },
                           {param(s, 83)}, 84);
  EXPECT_LT(r[0], kFwdTol);
  EXPECT_LT(r[1], kGradTol);
}

TEST(Pointwise, BadShapesThrow) {
  EXPECT_THROW(add(random_tensor({2, 3}, 1), random_tensor({3, 2}, 2)), std::invalid_argument);
  EXPECT_THROW(mul(random_tensor({2, 3}, 1), random_tensor({6}, 2)), std::invalid_argument);
  EXPECT_THROW(reshape(random_tensor({2, 3}, 1), {4, 2}), std::invalid_argument);
  EXPECT_THROW(flatten(random_tensor({6}, 1)), std::invalid_argument);
  EXPECT_THROW(relu(Tensor()), std::invalid_argument);
  EXPECT_THROW(sum(Tensor()), std::invalid_argument);
  EXPECT_THROW(mean(Tensor()), std::invalid_argument);
  EXPECT_THROW(add(Tensor(), random_tensor({2}, 1)), std::invalid_argument);
}

TEST(Pointwise, KernelsSkipNullAndHonourBeta) {
  Tensor y = Tensor::from_vector({4}, {-1, 2, 0, 3}), dy = Tensor::from_vector({4}, {1, 1, 1, 1});
  cpu::relu_backward(y, dy, nullptr, 0.f);  // nothing to write: must not crash
  std::vector<float> dx(4, std::numeric_limits<float>::quiet_NaN());
  cpu::relu_backward(y, dy, dx.data(), 0.f);  // beta 0 never reads the NaN
  EXPECT_EQ(dx, (std::vector<float>{0, 1, 0, 1}));
  cpu::relu_backward(y, dy, dx.data(), 1.f);
  EXPECT_EQ(dx, (std::vector<float>{0, 2, 0, 2}));
  Tensor s = Tensor::from_vector({1}, {2.0f});
  std::vector<float> g(3, 1.0f);
  cpu::broadcast_scalar_backward(s, 0.5f, g.data(), 1.f, 3);
  EXPECT_EQ(g, std::vector<float>(3, 2.0f));
}

}  // namespace
}  // namespace cs::test

// CUDA parity cases (parity_table.h) of the elementwise ops and reductions: add, mul, scale, sum,
// mean, relu, reshape, plus the raw kernels that no wrapper reaches alone (axpby's beta).
namespace cs::cudatest {

Cases add_mul_scale_cases() {
  const Shape s{3, 5, 7, 4};
  const OpFn add2 = [](const std::vector<Tensor>& t) { return add(t[0], t[1]); };
  const OpFn mul2 = [](const std::vector<Tensor>& t) { return mul(t[0], t[1]); };
  return {
      {"add", add2, {input(s, 1), input(s, 2)}},
      {"add, only b requires grad", add2, {input(s, 3, -1, 1, false), input(s, 4)}},
      {"mul", mul2, {input(s, 5), input(s, 6)}},
      {"mul, only a requires grad", mul2, {input(s, 7), input(s, 8, -2, 2, false)}},
      {"scale", [](const std::vector<Tensor>& t) { return scale(t[0], -2.5f); }, {input(s, 9)}},
  };
}

Cases sum_mean_cases() {
  // Large enough for many blocks of partial sums; values offset from zero so that a lost partial
  // would show.
  const OpFn sum1 = [](const std::vector<Tensor>& t) { return sum(t[0]); };
  return {
      {"sum", sum1, {input({70001}, 10, 0.5f, 1.5f)}},
      {"mean", [](const std::vector<Tensor>& t) { return mean(t[0]); }, {input({4, 9, 9, 3}, 11)}},
      {"sum of one element", sum1, {input({1}, 12)}},
  };
}

Cases relu_reshape_cases() {
  return {
      {"relu", [](const std::vector<Tensor>& t) { return relu(t[0]); }, {input({2, 6, 5, 3}, 13)}},
      {"relu after reshape", [](const std::vector<Tensor>& t) { return relu(reshape(t[0], {6, 15})); },
       {input({2, 3, 5, 3}, 14)}},
      {"flatten", [](const std::vector<Tensor>& t) { return scale(flatten(t[0]), 3.0f); }, {input({2, 3, 4, 5}, 15)}},
  };
}

Cases axpby_broadcast_cases() {
  // Forward only, on buffers full of NaN: beta 0 must not read them (NaN would survive 0*NaN);
  // beta 1 accumulates.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const OpFn axpby_twice = [nan](const std::vector<Tensor>& t) {
    Tensor out = Tensor::full(t[0].shape(), nan, t[0].device());
    CS_DISPATCH(t[0].device(), axpby, t[0], 2.0f, out.data(), 0.0f);
    CS_DISPATCH(t[0].device(), axpby, t[0], -0.5f, out.data(), 1.0f);
    return out;
  };
  // dx = beta*dx + scale*dy[0].
  const OpFn broadcast = [nan](const std::vector<Tensor>& t) {
    Tensor out = Tensor::full({1000}, nan, t[0].device());
    CS_DISPATCH(t[0].device(), broadcast_scalar_backward, t[0], 0.25f, out.data(), 0.0f, out.numel());
    return out;
  };
  return {
      {"axpby, beta 0 then beta 1", axpby_twice, {input({1000}, 16, -1, 1, false)}, 1e-6},
      {"broadcast_scalar_backward, beta 0", broadcast, {input({1}, 17, -1, 1, false)}, 1e-6},
  };
}

}  // namespace cs::cudatest
