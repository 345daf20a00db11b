// CUDA parity of the feature-axis ops: linear (cuBLAS) and softmax, on short rows (one thread
// per row) and long rows (one warp per row).
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "parity.h"

namespace cs::cudatest {
namespace {

TEST_F(Cuda, LinearParity) {
  const auto lin = [](const std::vector<Tensor>& t) { return linear(t[0], t[1]); };
  expect_parity("linear 5x7 -> 3", lin, {input({5, 7}, 1), input({3, 7}, 2)});
  expect_parity("linear 1x128 -> 64", lin, {input({1, 128}, 3), input({64, 128}, 4, -0.2f, 0.2f)});
  expect_parity("linear 33x3200 -> 128", lin, {input({33, 3200}, 5), input({128, 3200}, 6, -0.05f, 0.05f)});
  expect_parity("linear, x only", lin, {input({4, 6}, 7), input({5, 6}, 8, -1, 1, false)});
  expect_parity("linear, w only", lin, {input({4, 6}, 9, -1, 1, false), input({5, 6}, 10)});
}

TEST_F(Cuda, SoftmaxParity) {
  const auto sm = [](const std::vector<Tensor>& t) { return softmax(t[0]); };
  expect_parity("softmax C=4 (segmentation classes)", sm, {input({2, 6, 6, 4}, 11, -3, 3)});
  expect_parity("softmax C=1", sm, {input({7, 1}, 12)});
  expect_parity("softmax C=100", sm, {input({9, 100}, 13, -5, 5)});
  // Large logits: the max shift must keep exp finite.
  expect_parity("softmax large logits", sm, {input({5, 40}, 14, 50, 90)});
}

}  // namespace
}  // namespace cs::cudatest
