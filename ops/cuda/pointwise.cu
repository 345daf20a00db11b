// CUDA kernels of ops/pointwise.h: axpby, add, mul, relu, and the full sum with its broadcast
// backward.
#include <stdexcept>

#include "ops/cuda/common.cuh"
#include "ops/pointwise.h"

namespace cs::cuda {
namespace {

__global__ void axpby_kernel(const float* x, float alpha, float* y, float beta, int64_t n) {
  CS_GRID_STRIDE(i, n) store_beta(&y[i], alpha * x[i], beta);
}

__global__ void add_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                           int64_t n) {
  CS_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

__global__ void mul_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                           int64_t n) {
  CS_GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}

__global__ void mul_backward_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                    const float* __restrict__ dy, float* da, float beta_a, float* db,
                                    float beta_b, int64_t n) {
  CS_GRID_STRIDE(i, n) {
    const float g = dy[i];
    if (da) store_beta(&da[i], g * b[i], beta_a);
    if (db) store_beta(&db[i], g * a[i], beta_b);
  }
}

__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  CS_GRID_STRIDE(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(const float* __restrict__ y, const float* __restrict__ dy, float* dx,
                                     float beta, int64_t n) {
  CS_GRID_STRIDE(i, n) store_beta(&dx[i], y[i] > 0.0f ? dy[i] : 0.0f, beta);
}

// Block partial sums in double; one block per grid slot.
__global__ void sum_partial_kernel(const float* __restrict__ x, int64_t n, double* partial) {
  double s = 0.0;
  CS_GRID_STRIDE(i, n) s += x[i];
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block adds the partials in a fixed order (deterministic) and writes y[0].
__global__ void sum_final_kernel(const double* __restrict__ partial, int count, float* y) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) y[0] = static_cast<float>(s);
}

__global__ void broadcast_kernel(const float* __restrict__ dy, float scale, float* dx, float beta,
                                 int64_t n) {
  const float g = scale * dy[0];
  CS_GRID_STRIDE(i, n) store_beta(&dx[i], g, beta);
}

}  // namespace

void axpby(const Tensor& x, float alpha, float* y, float beta) {
  if (!y) return;
  launch("axpby_kernel", axpby_kernel, x.numel(), x.data(), alpha, y, beta, x.numel());
}

void add_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  launch("add_kernel", add_kernel, a.numel(), a.data(), b.data(), y.data(), a.numel());
}

void mul_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  launch("mul_kernel", mul_kernel, a.numel(), a.data(), b.data(), y.data(), a.numel());
}

void mul_backward(const Tensor& a, const Tensor& b, const Tensor& dy, float* da, float beta_a, float* db,
                  float beta_b) {
  if (!da && !db) return;
  launch("mul_backward_kernel", mul_backward_kernel, a.numel(), a.data(), b.data(), dy.data(), da, beta_a, db,
         beta_b, a.numel());
}

void sum_forward(const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  const int blocks = grid_for(n);
  Scratch partial(sizeof(double) * blocks);
  cudaStream_t s = cuda_stream();
  sum_partial_kernel<<<blocks, kBlock, 0, s>>>(x.data(), n, partial.as<double>());
  check_launch("sum_partial_kernel");
  sum_final_kernel<<<1, kBlock, 0, s>>>(partial.as<double>(), blocks, y.data());
  check_launch("sum_final_kernel");
}

void broadcast_scalar_backward(const Tensor& dy, float scale, float* dx, float beta, int64_t n) {
  if (!dx) return;
  launch("broadcast_kernel", broadcast_kernel, n, dy.data(), scale, dx, beta, n);
}

void relu_forward(const Tensor& x, Tensor& y) {
  launch("relu_kernel", relu_kernel, x.numel(), x.data(), y.data(), x.numel());
}

void relu_backward(const Tensor& y, const Tensor& dy, float* dx, float beta) {
  if (!dx) return;
  launch("relu_backward_kernel", relu_backward_kernel, y.numel(), y.data(), dy.data(), dx, beta, y.numel());
}

}  // namespace cs::cuda
