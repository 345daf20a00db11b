// Ops over the last dimension of x [rows, D]: softmax, forward and backward.
// Short rows (D <= 32, e.g. the class axis of a segmentation map) use one thread per row;
// longer rows (embeddings, similarity rows) one warp per row with shuffle reductions.
#include <stdexcept>

#include "ops/cuda/common.cuh"
#include "ops/kernels.h"

namespace cs::cuda {
namespace {

constexpr int64_t kThreadRowMax = 32;

// ---- softmax
__global__ void softmax_thread_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                      int64_t D) {
  CS_GRID_STRIDE(r, rows) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    float m = xr[0];
    for (int64_t j = 1; j < D; ++j) m = fmaxf(m, xr[j]);
    float s = 0.0f;
    for (int64_t j = 0; j < D; ++j) s += expf(xr[j] - m);
    const float inv = 1.0f / s;
    for (int64_t j = 0; j < D; ++j) yr[j] = expf(xr[j] - m) * inv;
  }
}

__global__ void softmax_warp_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                    int64_t D) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32; r < rows; r += warps) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    float m = -INFINITY;
    for (int64_t j = lane; j < D; j += 32) m = fmaxf(m, xr[j]);
    m = warp_allmax(m);
    float s = 0.0f;
    for (int64_t j = lane; j < D; j += 32) s += expf(xr[j] - m);
    const float inv = 1.0f / warp_allsum(s);
    for (int64_t j = lane; j < D; j += 32) yr[j] = expf(xr[j] - m) * inv;
  }
}

// dx = y * (dy - <dy, y>)
__global__ void softmax_backward_thread_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                               float* dx, float beta, int64_t rows, int64_t D) {
  CS_GRID_STRIDE(r, rows) {
    const float* yr = y + r * D;
    const float* gr = dy + r * D;
    float dot = 0.0f;
    for (int64_t j = 0; j < D; ++j) dot += yr[j] * gr[j];
    for (int64_t j = 0; j < D; ++j) store_beta(&dx[r * D + j], yr[j] * (gr[j] - dot), beta);
  }
}

__global__ void softmax_backward_warp_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                             float* dx, float beta, int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32; r < rows; r += warps) {
    const float* yr = y + r * D;
    const float* gr = dy + r * D;
    float dot = 0.0f;
    for (int64_t j = lane; j < D; j += 32) dot += yr[j] * gr[j];
    dot = warp_allsum(dot);
    for (int64_t j = lane; j < D; j += 32) store_beta(&dx[r * D + j], yr[j] * (gr[j] - dot), beta);
  }
}

struct Rows {
  int64_t rows, D;
};

Rows row_dims(const Tensor& x, const char* op) {
  require_cuda(x, op, "x");
  if (x.ndim() < 1) throw std::invalid_argument(std::string(op) + " (cuda): x has no dimensions");
  const int64_t D = x.dim(-1);
  return {D > 0 ? x.numel() / D : 0, D};
}

int warp_grid(int64_t rows) { return grid_for(rows * 32); }

}  // namespace

void softmax_forward(const Tensor& x, Tensor& y) {
  const auto [rows, D] = row_dims(x, "softmax");
  require_cuda(y, "softmax", "y");
  check_shape(y, x.shape(), "softmax (cuda)", "y");
  if (rows == 0) return;
  cudaStream_t s = cuda_stream();
  if (D <= kThreadRowMax)
    softmax_thread_kernel<<<grid_for(rows), kBlock, 0, s>>>(x.data(), y.data(), rows, D);
  else
    softmax_warp_kernel<<<warp_grid(rows), kBlock, 0, s>>>(x.data(), y.data(), rows, D);
  check_launch("softmax_kernel");
}

void softmax_backward(const Tensor& y, const Tensor& dy, float* dx, float beta) {
  const auto [rows, D] = row_dims(y, "softmax_backward");
  require_cuda(dy, "softmax_backward", "dy");
  check_shape(dy, y.shape(), "softmax_backward (cuda)", "dy");
  if (rows == 0 || !dx) return;
  cudaStream_t s = cuda_stream();
  if (D <= kThreadRowMax)
    softmax_backward_thread_kernel<<<grid_for(rows), kBlock, 0, s>>>(y.data(), dy.data(), dx, beta, rows, D);
  else
    softmax_backward_warp_kernel<<<warp_grid(rows), kBlock, 0, s>>>(y.data(), dy.data(), dx, beta, rows, D);
  check_launch("softmax_backward_kernel");
}

}  // namespace cs::cuda
