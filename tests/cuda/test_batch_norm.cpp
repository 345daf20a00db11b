// CUDA batch norm parity with the CPU op: training (batch statistics, gradients through them,
// running-statistics update) and inference (running statistics), over channel counts that hit
// the different block shapes of the per-channel reduction (C = 1, 3, 16, 40, 64).
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "parity.h"

namespace cs::cudatest {
namespace {

OpFn bn_train(int64_t C, float eps = 1e-3f) {
  return [C, eps](const std::vector<Tensor>& t) {
    Tensor rm = Tensor::zeros({C}, t[0].device()), rv = Tensor::zeros({C}, t[0].device());
    return batch_norm(t[0], t[1], t[2], rm, rv, true, 0.99f, eps);
  };
}

OpFn bn_infer(int64_t C, uint64_t seed) {
  const std::vector<float> rm = uniform(C, seed, -1.0f, 1.0f), rv = uniform(C, seed + 1, 0.2f, 2.0f);
  return [C, rm, rv](const std::vector<Tensor>& t) {
    Tensor m = Tensor::from_vector({C}, rm, t[0].device()), v = Tensor::from_vector({C}, rv, t[0].device());
    return batch_norm(t[0], t[1], t[2], m, v, false);
  };
}

std::vector<Input> bn_inputs(const Shape& xs, uint64_t seed, float lo = -2.0f, float hi = 3.0f) {
  const int64_t C = xs.back();
  return {input(xs, seed, lo, hi), input({C}, seed + 1, 0.5f, 1.5f), input({C}, seed + 2)};
}

TEST_F(Cuda, BatchNormTrainParity) {
  expect_parity("train [2,5,6,3]", bn_train(3), bn_inputs({2, 5, 6, 3}, 1));
  expect_parity("train [7,40]", bn_train(40), bn_inputs({7, 40}, 4));
  expect_parity("train [3,4,4,64]", bn_train(64), bn_inputs({3, 4, 4, 64}, 7));
  expect_parity("train [5,3,3,1]", bn_train(1), bn_inputs({5, 3, 3, 1}, 10));
  // Many rows (several blocks of partial sums) and a mean far from zero.
  expect_parity("train [4,32,32,16], mean ~ 3", bn_train(16), bn_inputs({4, 32, 32, 16}, 13, 2.0f, 4.0f));
}

TEST_F(Cuda, BatchNormTrainPartialGradients) {
  std::vector<Input> in = bn_inputs({2, 4, 4, 8}, 16);
  in[1].requires_grad = false;
  in[2].requires_grad = false;
  expect_parity("train, x only", bn_train(8), in);
  in = bn_inputs({2, 4, 4, 8}, 19);
  in[0].requires_grad = false;
  expect_parity("train, gamma and beta only", bn_train(8), in);
}

TEST_F(Cuda, BatchNormInferParity) {
  expect_parity("infer [2,5,6,3]", bn_infer(3, 22), bn_inputs({2, 5, 6, 3}, 24));
  expect_parity("infer [3,4,4,64]", bn_infer(64, 27), bn_inputs({3, 4, 4, 64}, 29));
  std::vector<Input> in = bn_inputs({2, 3, 3, 40}, 32);
  in[0].requires_grad = false;
  expect_parity("infer, gamma and beta only", bn_infer(40, 35), in);
  in = bn_inputs({2, 3, 3, 40}, 37);
  in[1].requires_grad = false;
  in[2].requires_grad = false;
  expect_parity("infer, x only", bn_infer(40, 40), in);
}

// r <- decay*r + (1-decay)*batch (unbiased variance for r_var), over two steps from random
// starting values; inference leaves the statistics alone.
TEST_F(Cuda, BatchNormRunningStatistics) {
  const int64_t C = 24;
  const Shape xs{3, 5, 4, C};
  const std::vector<float> x1 = uniform(shape_numel(xs), 42, -1.0f, 3.0f), x2 = uniform(shape_numel(xs), 43);
  const std::vector<float> g = uniform(C, 44, 0.5f, 1.5f), b = uniform(C, 45);
  const std::vector<float> rm0 = uniform(C, 46), rv0 = uniform(C, 47, 0.5f, 1.5f);
  std::vector<float> stats[2][2];
  for (int dev = 0; dev < 2; ++dev) {
    const Device d = dev == 0 ? Device::CPU : Device::CUDA;
    Tensor gamma = Tensor::from_vector({C}, g, d), beta = Tensor::from_vector({C}, b, d);
    Tensor rm = Tensor::from_vector({C}, rm0, d), rv = Tensor::from_vector({C}, rv0, d);
    batch_norm(Tensor::from_vector(xs, x1, d), gamma, beta, rm, rv, true, 0.9f);
    batch_norm(Tensor::from_vector(xs, x2, d), gamma, beta, rm, rv, true, 0.9f);
    batch_norm(Tensor::from_vector(xs, x2, d), gamma, beta, rm, rv, false);
    stats[dev][0] = rm.to_vector();
    stats[dev][1] = rv.to_vector();
  }
  EXPECT_LT(normalized_error(stats[1][0], stats[0][0]), 1e-5) << "running mean";
  EXPECT_LT(normalized_error(stats[1][1], stats[0][1]), 1e-5) << "running variance";
  // The statistics moved (a test that passes with untouched buffers would prove nothing).
  EXPECT_GT(normalized_error(stats[1][0], rm0), 1e-3);
}

}  // namespace
}  // namespace cs::cudatest
