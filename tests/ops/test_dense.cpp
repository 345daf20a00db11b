// linear (no bias) and softmax over the last dimension; then CUDA parity.
#include <gtest/gtest.h>

#include <cmath>

#include "op_check.h"
#include "ops/dense.h"
#include "ops/ops.h"
#include "parity_table.h"

namespace cs::test {
namespace {

constexpr double kFwdTol = 1e-5, kGradTol = 1e-4;

TEST(Linear, ForwardAndGradients) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return linear(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::linear(v[0], 3, 5, v[1], 4); },
                             {param({3, 5}, 10), param({4, 5}, 11)}, 12),
                    kFwdTol, kGradTol));
  // Frozen weights, and a single row.
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return linear(t[0], t[1]); },
                             [](const std::vector<Vec>& v) { return ref::linear(v[0], 1, 7, v[1], 2); },
                             {param({1, 7}, 13), random_tensor({2, 7}, 14)}, 15),
                    kFwdTol, kGradTol));
}

TEST(Linear, ProjectionHeadSizeMatchesReference) {
  Tensor x = random_tensor({8, 128}, 16), w = random_tensor({64, 128}, 17, -0.1f, 0.1f);
  EXPECT_LT(normalized_error(ref::linear(to_double(x), 8, 128, to_double(w), 64),
                             to_double(linear(x, w))),
            kFwdTol);
}

TEST(Softmax, ForwardAndGradient) {
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return softmax(t[0]); },
                             [](const std::vector<Vec>& v) { return ref::softmax(v[0], 4); },
                             {param({2, 3, 4}, 20)}, 21),
                    kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(check_op([](const std::vector<Tensor>& t) { return softmax(t[0]); },
                             [](const std::vector<Vec>& v) { return ref::softmax(v[0], 1); },
                             {param({3, 1}, 22)}, 23),
                    kFwdTol, kGradTol));
}

TEST(Softmax, LargeLogitsStayFinite) {
  Tensor x = Tensor::from_vector({2, 3}, {1000, 1001, 999, -1000, -1001, -999});
  const std::vector<float> y = softmax(x).to_vector();
  const Vec want = ref::softmax(to_double(x), 3);
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_TRUE(std::isfinite(y[i]));
    EXPECT_NEAR(y[i], want[i], 1e-6);
  }
}

TEST(Dense, ThreadedSizesMatchReference) {
  std::vector<double> r = check_op_directional([](const std::vector<Tensor>& t) { return softmax(t[0]); },
                                               [](const std::vector<Vec>& v) { return ref::softmax(v[0], 9); },
                                               {param({4096, 9}, 40)}, 41);
  EXPECT_LT(r[0], kFwdTol);
  EXPECT_LT(r[1], kGradTol);
}

TEST(Dense, BadShapesThrow) {
  EXPECT_THROW(linear(random_tensor({3, 5}, 1), random_tensor({4, 6}, 2)), std::invalid_argument);
  EXPECT_THROW(linear(random_tensor({3, 5, 1}, 1), random_tensor({4, 5}, 2)), std::invalid_argument);
  EXPECT_THROW(linear(random_tensor({3, 5}, 1), random_tensor({5}, 2)), std::invalid_argument);
  EXPECT_THROW(softmax(Tensor()), std::invalid_argument);
  EXPECT_THROW(softmax(Tensor::zeros({3, 0})), std::invalid_argument);
}

}  // namespace
}  // namespace cs::test

// CUDA parity cases (parity_table.h) of the feature-axis ops: linear (cuBLAS) and softmax, on
// short rows (one thread per row) and long rows (one warp per row).
namespace cs::cudatest {

Cases linear_cases() {
  const OpFn lin = [](const std::vector<Tensor>& t) { return linear(t[0], t[1]); };
  return {
      {"linear 5x7 -> 3", lin, {input({5, 7}, 1), input({3, 7}, 2)}},
      {"linear 1x128 -> 64", lin, {input({1, 128}, 3), input({64, 128}, 4, -0.2f, 0.2f)}},
      {"linear 33x3200 -> 128", lin, {input({33, 3200}, 5), input({128, 3200}, 6, -0.05f, 0.05f)}},
      {"linear, x only", lin, {input({4, 6}, 7), input({5, 6}, 8, -1, 1, false)}},
      {"linear, w only", lin, {input({4, 6}, 9, -1, 1, false), input({5, 6}, 10)}},
  };
}

Cases softmax_cases() {
  const OpFn sm = [](const std::vector<Tensor>& t) { return softmax(t[0]); };
  return {
      {"softmax C=4 (segmentation classes)", sm, {input({2, 6, 6, 4}, 11, -3, 3)}},
      {"softmax C=1", sm, {input({7, 1}, 12)}},
      {"softmax C=100", sm, {input({9, 100}, 13, -5, 5)}},
      // Large logits: the max shift must keep exp finite.
      {"softmax large logits", sm, {input({5, 40}, 14, 50, 90)}},
  };
}

}  // namespace cs::cudatest
