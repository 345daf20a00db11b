// CUDA kernels over the last (feature) dimension (ops/dense.h).
// linear without bias through cuBLAS. cuBLAS is column-major: a row-major [R, K] array is the
// column-major K x R matrix, i.e. its transpose, so each row-major product below is written as
// the transposed column-major product (C = A B  <=>  C^T = B^T A^T).
// softmax over x [rows, D]: short rows (D <= 32, e.g. the class axis of a segmentation map) use
// one thread per row; longer rows one warp per row with shuffle reductions.
#include <climits>
#include <stdexcept>

#include "autograd/cuda_runtime_api.h"
#include "ops/cuda/common.cuh"
#include "ops/dense.h"

namespace cs::cuda {
namespace {

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string("linear (cuda): ") + what + " too large for cuBLAS");
  return static_cast<int>(v);
}

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

Rows row_dims(const Tensor& x) {  // x [..., D] as [rows, D]
  const int64_t D = x.dim(-1);
  return {D > 0 ? x.numel() / D : 0, D};
}

int warp_grid(int64_t rows) { return grid_for(rows * 32); }

}  // namespace

// x [N,Din], w [Dout,Din] -> y [N,Dout] = x w^T.
// Column-major: y^T (Dout x N) = w (op T of the Din x Dout array w) * x^T (the Din x N array x).
void linear_forward(const Tensor& x, const Tensor& w, Tensor& y) {
  const int N = to_int(x.dim(0), "N"), Din = to_int(x.dim(1), "Din"), Dout = to_int(w.dim(0), "Dout");
  if (N == 0 || Dout == 0) return;
  const float alpha = 1.0f, beta = 0.0f;
  if (Din == 0) {
    y.zero_();
    return;
  }
  cublas_check(cublasSgemm(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, Dout, N, Din, &alpha, w.data(), Din,
                           x.data(), Din, &beta, y.data(), Dout),
               "linear_forward: cublasSgemm");
}

// dx [N,Din] = dy [N,Dout] w [Dout,Din]   -> column-major dx^T = w^T dy^T (both plain arrays)
// dw [Dout,Din] = dy^T x                  -> column-major dw^T = x^T dy   (dy array transposed)
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx, float* dw,
                     float beta_dw) {
  const int N = to_int(x.dim(0), "N"), Din = to_int(x.dim(1), "Din"), Dout = to_int(w.dim(0), "Dout");
  const float one = 1.0f;
  cublasHandle_t h = cublas_handle();
  // With a zero inner dimension the product is zero: beta 0 clears, beta 1 keeps (cuBLAS does
  // that itself for k = 0 as long as m, n > 0).
  if (dx && N > 0 && Din > 0)
    cublas_check(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, Din, N, Dout, &one, w.data(), Din, dy.data(), Dout,
                             &beta_dx, dx, Din),
                 "linear_backward: cublasSgemm (dx)");
  if (dw && Dout > 0 && Din > 0)
    cublas_check(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, Din, Dout, N, &one, x.data(), Din, dy.data(), Dout,
                             &beta_dw, dw, Din),
                 "linear_backward: cublasSgemm (dw)");
}

void softmax_forward(const Tensor& x, Tensor& y) {
  const auto [rows, D] = row_dims(x);
  if (rows == 0) return;
  cudaStream_t s = cuda_stream();
  if (D <= kThreadRowMax)
    softmax_thread_kernel<<<grid_for(rows), kBlock, 0, s>>>(x.data(), y.data(), rows, D);
  else
    softmax_warp_kernel<<<warp_grid(rows), kBlock, 0, s>>>(x.data(), y.data(), rows, D);
  check_launch("softmax_kernel");
}

void softmax_backward(const Tensor& y, const Tensor& dy, float* dx, float beta) {
  const auto [rows, D] = row_dims(y);
  if (rows == 0 || !dx) return;
  cudaStream_t s = cuda_stream();
  if (D <= kThreadRowMax)
    softmax_backward_thread_kernel<<<grid_for(rows), kBlock, 0, s>>>(y.data(), dy.data(), dx, beta, rows, D);
  else
    softmax_backward_warp_kernel<<<warp_grid(rows), kBlock, 0, s>>>(y.data(), dy.data(), dx, beta, rows, D);
  check_launch("softmax_backward_kernel");
}

}  // namespace cs::cuda
