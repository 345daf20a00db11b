// After a first training step, an identical step must not call cudaMalloc: every temporary
// (activations, gradients, scratch of the reductions, cuDNN workspaces) comes from the caching
// allocator's free lists.
#include <gtest/gtest.h>

#include "autograd/allocator.h"
#include "autograd/cuda_runtime_api.h"
#include "autograd/tape.h"
#include "ops/ops.h"
#include "ops/similarity.h"
#include "parity.h"

#ifdef CONTRASEG_CUDA
namespace cs::cudatest {
namespace {

struct Params {
  Tensor w1, b1, gamma, beta, rm, rv, w_up, b_up, w2, w_lin;
  std::vector<Tensor*> trainable() { return {&w1, &b1, &gamma, &beta, &w_up, &b_up, &w2, &w_lin}; }
};

Tensor on_gpu(const Shape& s, uint64_t seed, float lo = -0.5f, float hi = 0.5f) {
  return Tensor::from_vector(s, uniform(shape_numel(s), seed, lo, hi), Device::CUDA).set_requires_grad(true);
}

// One small UNet-like step touching every op: conv (3x3, 2x2, 1x1), batch norm, relu, pool,
// upsample, concat, softmax, a projection head (linear) into the NT-Xent loss of the global
// stage, add/mul/mean/sum/scale.
void step(Params& p, const Tensor& x, const Tensor& target, const ContrastPlan& plan) {
  for (Tensor* t : p.trainable()) t->zero_grad();
  Tensor h = relu(batch_norm(conv2d(x, p.w1, p.b1), p.gamma, p.beta, p.rm, p.rv, true));
  Tensor u = conv2d(upsample2x(maxpool2x2(h)), p.w_up, p.b_up);
  Tensor c = concat_channels(h, u);
  Tensor seg = softmax(conv2d(c, p.w2));
  Tensor z = linear(flatten(c), p.w_lin);
  Tensor loss = add(mean(mul(seg, target)), scale(add(ntxent_loss(z, plan, 0.1f), sum(mul(z, z))), 0.01f));
  backward(loss);
}

TEST_F(Cuda, SteadyStateStepDoesNotAllocate) {
  const int64_t N = 4, H = 8, W = 8, C = 4, K = 3;
  Params p;
  p.w1 = on_gpu({C, 3, 3, 1}, 1);
  p.b1 = on_gpu({C}, 2);
  p.gamma = on_gpu({C}, 3, 0.5f, 1.5f);
  p.beta = on_gpu({C}, 4);
  p.rm = Tensor::zeros({C}, Device::CUDA);
  p.rv = Tensor::zeros({C}, Device::CUDA);
  p.w_up = on_gpu({C, 2, 2, C}, 5);
  p.b_up = on_gpu({C}, 6);
  p.w2 = on_gpu({K, 1, 1, 2 * C}, 7);
  p.w_lin = on_gpu({16, H * W * 2 * C}, 8, -0.05f, 0.05f);
  const Tensor x = Tensor::from_vector({N, H, W, 1}, uniform(N * H * W, 9), Device::CUDA);
  const Tensor target =
      Tensor::from_vector({N, H, W, K}, uniform(N * H * W * K, 10, 0.0f, 1.0f), Device::CUDA);

  // Two images of each volume: positives within a group, negatives across (as the G^D layout).
  ContrastSpec spec;
  spec.rows = N;
  spec.group = {0, 0, 1, 1};
  spec.terms = {{0, 1, 0, 0.25f}, {1, 0, 1, 0.25f}, {2, 3, 2, 0.25f}, {3, 2, 3, 0.25f}};
  const ContrastPlan plan(spec, Device::CUDA);  // built once per layout, outside the steps

  step(p, x, target, plan);
  cuda_synchronize();
  const AllocatorStats first = allocator_stats(Device::CUDA);
  step(p, x, target, plan);
  cuda_synchronize();
  const AllocatorStats second = allocator_stats(Device::CUDA);
  step(p, x, target, plan);
  cuda_synchronize();
  const AllocatorStats third = allocator_stats(Device::CUDA);

  EXPECT_GT(second.requests, first.requests)
      << "the step allocated nothing at all: the test measures nothing";
  EXPECT_EQ(second.device_allocs, first.device_allocs) << "cudaMalloc in the second identical step";
  EXPECT_EQ(third.device_allocs, first.device_allocs) << "cudaMalloc in the third identical step";
  EXPECT_EQ(third.bytes_in_use, second.bytes_in_use) << "memory held grows from step to step";
  for (Tensor* t : p.trainable()) EXPECT_TRUE(t->has_grad());
}

}  // namespace
}  // namespace cs::cudatest
#endif  // CONTRASEG_CUDA
