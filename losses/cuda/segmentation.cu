// CUDA kernels of the segmentation losses (losses/segmentation.h): per-pixel softmax fused with
// the Dice sums or the cross-entropy. Reductions are deterministic: blocks write partial sums,
// one more block adds them in a fixed order.
#include <cmath>

#include "losses/segmentation.h"
#include "ops/cuda/common.cuh"

namespace cs::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerImage = 64;  // partial sums per image (Dice) / in total (CE)

__device__ __forceinline__ float softmax_pixel_d(const float* x, int C, float* p) {
  float m = x[0];
  for (int c = 1; c < C; ++c) m = fmaxf(m, x[c]);
  float s = 0.0f;
  for (int c = 0; c < C; ++c) s += (p[c] = expf(x[c] - m));
  const float inv = 1.0f / s;
  for (int c = 0; c < C; ++c) p[c] *= inv;
  return m + logf(s);
}

// Sum of v over the block, returned to thread 0 (uses `buf` [kThreads]).
__device__ float block_sum(float v, float* buf) {
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o >>= 1) {
    if (threadIdx.x < o) buf[threadIdx.x] += buf[threadIdx.x + o];
    __syncthreads();
  }
  const float r = buf[0];
  __syncthreads();
  return r;
}

// grid (kBlocksPerImage, N): partial[(n * nb + b) * 3C + 3c + k] = block's sums (p*y, p, y).
__global__ void dice_partial_kernel(const float* x, const float* y, int64_t HW, int C, float* partial) {
  __shared__ float buf[kThreads];
  const int n = blockIdx.y, b = blockIdx.x, nb = gridDim.x;
  float acc[3 * kMaxClasses];
  for (int i = 0; i < 3 * C; ++i) acc[i] = 0.0f;
  float p[kMaxClasses];
  for (int64_t i = int64_t(b) * blockDim.x + threadIdx.x; i < HW; i += int64_t(nb) * blockDim.x) {
    const int64_t o = (int64_t(n) * HW + i) * C;
    softmax_pixel_d(x + o, C, p);
    for (int c = 0; c < C; ++c) {
      acc[3 * c] += p[c] * y[o + c];
      acc[3 * c + 1] += p[c];
      acc[3 * c + 2] += y[o + c];
    }
  }
  for (int i = 0; i < 3 * C; ++i) {
    const float s = block_sum(acc[i], buf);
    if (threadIdx.x == 0) partial[(int64_t(n) * nb + b) * 3 * C + i] = s;
  }
}

// One block: sums[n, c, k] = sum over blocks, then the loss.
__global__ void dice_finalize_kernel(const float* partial, int N, int C, int nb, int first, float* sums, float* loss) {
  __shared__ double dice[kThreads];
  double local = 0.0;
  for (int e = threadIdx.x; e < N * C; e += blockDim.x) {
    const int n = e / C, c = e % C;
    double s[3] = {0, 0, 0};
    for (int b = 0; b < nb; ++b)
      for (int k = 0; k < 3; ++k) s[k] += partial[(int64_t(n) * nb + b) * 3 * C + 3 * c + k];
    for (int k = 0; k < 3; ++k) sums[(int64_t(n) * C + c) * 3 + k] = static_cast<float>(s[k]);
    if (c >= first) local += 2.0 * s[0] / (s[1] + s[2] + double(kDiceEps));
  }
  dice[threadIdx.x] = local;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o >>= 1) {
    if (threadIdx.x < o) dice[threadIdx.x] += dice[threadIdx.x + o];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = static_cast<float>(1.0 - dice[0] / double(N * (C - first)));
}

__global__ void dice_backward_kernel(const float* x, const float* y, const float* sums, int64_t N, int64_t HW, int C,
                                     int first, const float* dloss, float* dx, float beta) {
  const float scale = dloss[0] / static_cast<float>(N * (C - first));
  float p[kMaxClasses], dp[kMaxClasses];
  CS_GRID_STRIDE(pix, N * HW) {
    const int64_t n = pix / HW, o = pix * C;
    softmax_pixel_d(x + o, C, p);
    float dot = 0.0f;
    for (int c = 0; c < C; ++c) {
      const float* t = sums + (n * C + c) * 3;
      const float den = t[1] + t[2] + kDiceEps;
      dp[c] = c >= first ? 2.0f * scale * (t[0] / (den * den) - y[o + c] / den) : 0.0f;
      dot += p[c] * dp[c];
    }
    for (int c = 0; c < C; ++c) store_beta(dx + o + c, p[c] * (dp[c] - dot), beta);
  }
}

__global__ void ce_partial_kernel(const float* x, const float* y, const float* w, int64_t M, int C, float* partial) {
  __shared__ float buf[kThreads];
  float p[kMaxClasses];
  float acc = 0.0f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < M; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i * C;
    const float lse = softmax_pixel_d(x + o, C, p);
    float wp = 0.0f, ce = 0.0f;
    for (int c = 0; c < C; ++c) {
      wp += w[c] * y[o + c];
      ce += y[o + c] * (lse - x[o + c]);
    }
    acc += wp * ce;
  }
  const float s = block_sum(acc, buf);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void ce_finalize_kernel(const float* partial, int nb, int64_t M, float* loss) {
  if (threadIdx.x != 0) return;
  double s = 0.0;
  for (int b = 0; b < nb; ++b) s += partial[b];
  loss[0] = static_cast<float>(s / double(M));
}

__global__ void ce_backward_kernel(const float* x, const float* y, const float* w, int64_t M, int C,
                                   const float* dloss, float* dx, float beta) {
  const float scale = dloss[0] / static_cast<float>(M);
  float p[kMaxClasses];
  CS_GRID_STRIDE(i, M) {
    const int64_t o = i * C;
    softmax_pixel_d(x + o, C, p);
    float wp = 0.0f, ysum = 0.0f;
    for (int c = 0; c < C; ++c) {
      wp += w[c] * y[o + c];
      ysum += y[o + c];
    }
    for (int c = 0; c < C; ++c) store_beta(dx + o + c, scale * wp * (p[c] * ysum - y[o + c]), beta);
  }
}

}  // namespace

void dice_forward(const Tensor& logits, const Tensor& labels, int first_class, Tensor& sums, Tensor& loss) {
  const int N = static_cast<int>(logits.dim(0)), C = static_cast<int>(logits.dim(3));
  const int64_t HW = logits.dim(1) * logits.dim(2);
  Tensor partial = Tensor::empty({int64_t(N) * kBlocksPerImage * 3 * C}, Device::CUDA);
  dice_partial_kernel<<<dim3(kBlocksPerImage, N), kThreads, 0, cuda_stream()>>>(logits.data(), labels.data(), HW, C,
                                                                                 partial.data());
  check_launch("dice_partial_kernel");
  dice_finalize_kernel<<<1, kThreads, 0, cuda_stream()>>>(partial.data(), N, C, kBlocksPerImage, first_class,
                                                          sums.data(), loss.data());
  check_launch("dice_finalize_kernel");
}

void dice_backward(const Tensor& logits, const Tensor& labels, const Tensor& sums, int first_class, const float* dloss,
                   float* dlogits, float beta) {
  const int64_t N = logits.dim(0), HW = logits.dim(1) * logits.dim(2);
  const int C = static_cast<int>(logits.dim(3));
  dice_backward_kernel<<<grid_for(N * HW), kBlock, 0, cuda_stream()>>>(logits.data(), labels.data(), sums.data(), N,
                                                                       HW, C, first_class, dloss, dlogits, beta);
  check_launch("dice_backward_kernel");
}

void weighted_ce_forward(const Tensor& logits, const Tensor& labels, const Tensor& weights, Tensor& loss) {
  const int64_t M = logits.dim(0) * logits.dim(1) * logits.dim(2);
  const int C = static_cast<int>(logits.dim(3));
  const int nb = kBlocksPerImage * 4;
  Tensor partial = Tensor::empty({nb}, Device::CUDA);
  ce_partial_kernel<<<nb, kThreads, 0, cuda_stream()>>>(logits.data(), labels.data(), weights.data(), M, C,
                                                        partial.data());
  check_launch("ce_partial_kernel");
  ce_finalize_kernel<<<1, 32, 0, cuda_stream()>>>(partial.data(), nb, M, loss.data());
  check_launch("ce_finalize_kernel");
}

void weighted_ce_backward(const Tensor& logits, const Tensor& labels, const Tensor& weights, const float* dloss,
                          float* dlogits, float beta) {
  const int64_t M = logits.dim(0) * logits.dim(1) * logits.dim(2);
  const int C = static_cast<int>(logits.dim(3));
  ce_backward_kernel<<<grid_for(M), kBlock, 0, cuda_stream()>>>(logits.data(), labels.data(), weights.data(), M, C,
                                                                dloss, dlogits, beta);
  check_launch("ce_backward_kernel");
}

}  // namespace cs::cuda
