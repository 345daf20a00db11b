// CUDA parity of the elementwise ops and reductions: add, mul, scale, sum, mean, relu, reshape,
// plus the raw kernels that no wrapper reaches alone (axpby's beta).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "ops/pointwise.h"
#include "ops/ops.h"
#include "parity.h"

namespace cs::cudatest {
namespace {

TEST_F(Cuda, AddMulScaleParity) {
  const Shape s{3, 5, 7, 4};
  expect_parity("add", [](const std::vector<Tensor>& t) { return add(t[0], t[1]); },
                {input(s, 1), input(s, 2)});
  expect_parity("add, only b requires grad", [](const std::vector<Tensor>& t) { return add(t[0], t[1]); },
                {input(s, 3, -1, 1, false), input(s, 4)});
  expect_parity("mul", [](const std::vector<Tensor>& t) { return mul(t[0], t[1]); },
                {input(s, 5), input(s, 6)});
  expect_parity("mul, only a requires grad", [](const std::vector<Tensor>& t) { return mul(t[0], t[1]); },
                {input(s, 7), input(s, 8, -2, 2, false)});
  expect_parity("scale", [](const std::vector<Tensor>& t) { return scale(t[0], -2.5f); }, {input(s, 9)});
}

TEST_F(Cuda, SumMeanParity) {
  // Large enough for many blocks of partial sums; values offset from zero so that a lost partial
  // would show.
  const Shape big{70001};
  expect_parity("sum", [](const std::vector<Tensor>& t) { return sum(t[0]); }, {input(big, 10, 0.5f, 1.5f)});
  expect_parity("mean", [](const std::vector<Tensor>& t) { return mean(t[0]); }, {input({4, 9, 9, 3}, 11)});
  expect_parity("sum of one element", [](const std::vector<Tensor>& t) { return sum(t[0]); },
                {input({1}, 12)});
}

TEST_F(Cuda, ReluReshapeParity) {
  expect_parity("relu", [](const std::vector<Tensor>& t) { return relu(t[0]); }, {input({2, 6, 5, 3}, 13)});
  expect_parity("relu after reshape",
                [](const std::vector<Tensor>& t) {
                  return relu(reshape(t[0], {6, 15}));
                },
                {input({2, 3, 5, 3}, 14)});
  expect_parity("flatten", [](const std::vector<Tensor>& t) { return scale(flatten(t[0]), 3.0f); },
                {input({2, 3, 4, 5}, 15)});
}

#ifdef CONTRASEG_CUDA
TEST_F(Cuda, AxpbyAndBroadcastKernels) {
  // beta 0 must not read y (NaN there would survive 0*NaN); beta 1 accumulates.
  const std::vector<float> xv = uniform(1000, 16);
  Tensor x = Tensor::from_vector({1000}, xv, Device::CUDA);
  Tensor out = Tensor::full({1000}, std::numeric_limits<float>::quiet_NaN(), Device::CUDA);
  cuda::axpby(x, 2.0f, out.data(), 0.0f);
  cuda::axpby(x, -0.5f, out.data(), 1.0f);
  const std::vector<float> ov = out.to_vector();
  for (size_t i = 0; i < ov.size(); ++i) ASSERT_FLOAT_EQ(ov[i], 1.5f * xv[i]) << "element " << i;

  // dx = beta*dx + scale*dy[0], over a NaN buffer with beta 0.
  Tensor dy = Tensor::from_vector({1}, {4.0f}, Device::CUDA);
  cuda::broadcast_scalar_backward(dy, 0.25f, out.data(), 0.0f, out.numel());
  for (float v : out.to_vector()) ASSERT_EQ(v, 1.0f);
}
#endif

}  // namespace
}  // namespace cs::cudatest
