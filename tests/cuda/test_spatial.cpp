// CUDA parity of the spatial ops: 2x2 max pool (even and odd sizes, ties), nearest x2 upsample
// and channel concat.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "parity.h"

namespace cs::cudatest {
namespace {

TEST_F(Cuda, MaxPoolParity) {
  const auto pool = [](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); };
  expect_parity("maxpool 8x6", pool, {input({2, 8, 6, 3}, 1)});
  expect_parity("maxpool 7x5 (clipped windows)", pool, {input({2, 7, 5, 4}, 2)});
  expect_parity("maxpool 1x1", pool, {input({3, 1, 1, 2}, 3)});
  expect_parity("maxpool 64 channels", pool, {input({1, 6, 6, 64}, 4)});
}

TEST_F(Cuda, MaxPoolTiesRouteToFirst) {
  // Values on a coarse grid: most windows hold ties, and the gradient must go to the first
  // (row-major) maximum on both devices.
  Input in = input({2, 6, 7, 3}, 5, -2.0f, 2.0f);
  for (float& v : in.values) v = std::round(v);
  expect_parity("maxpool with ties", [](const std::vector<Tensor>& t) { return maxpool2x2(t[0]); }, {in});
}

TEST_F(Cuda, UpsampleParity) {
  const auto up = [](const std::vector<Tensor>& t) { return upsample2x(t[0]); };
  expect_parity("upsample 3x5", up, {input({2, 3, 5, 4}, 6)});
  expect_parity("upsample 1x1, 33 channels", up, {input({1, 1, 1, 33}, 7)});
}

TEST_F(Cuda, ConcatParity) {
  const auto cat = [](const std::vector<Tensor>& t) { return concat_channels(t[0], t[1]); };
  expect_parity("concat 3+5", cat, {input({2, 4, 3, 3}, 8), input({2, 4, 3, 5}, 9)});
  expect_parity("concat 16+16", cat, {input({1, 5, 5, 16}, 10), input({1, 5, 5, 16}, 11)});
  expect_parity("concat, a only", cat, {input({2, 3, 3, 2}, 12), input({2, 3, 3, 7}, 13, -1, 1, false)});
  expect_parity("concat, b only", cat, {input({2, 3, 3, 2}, 14, -1, 1, false), input({2, 3, 3, 7}, 15)});
}

TEST_F(Cuda, DecoderBlockParity) {
  // The UNet decoder's pattern: upsample, 2x2 conv, concat with the skip, 3x3 conv.
  const auto block = [](const std::vector<Tensor>& t) {
    Tensor u = conv2d(upsample2x(t[0]), t[1], t[2]);
    return relu(conv2d(concat_channels(u, t[3]), t[4]));
  };
  expect_parity("decoder block", block,
                {input({2, 3, 4, 8}, 16), input({4, 2, 2, 8}, 17), input({4}, 18), input({2, 6, 8, 4}, 19),
                 input({5, 3, 3, 8}, 20)},
                3e-4);
}

}  // namespace
}  // namespace cs::cudatest
