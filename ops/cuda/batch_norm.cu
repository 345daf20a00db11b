// Batch norm over the leading dims of x [M, C] (NHWC flattened): per-channel sums in double
// (ops/cuda/common.cu), a tiny per-channel kernel that turns them into coefficients, and one
// elementwise pass y = (x - m[c])*a[c] + b[c] (forward) or dx = a[c]*dy + b[c]*(x - m[c]) + d[c]
// (backward). Centring on the mean before scaling keeps float accuracy when |mean| >> std.
// With the fused ReLU the forward writes max(0, y), and the backward first masks dy where y,
// recomputed from x by the forward's own expression and coefficients, is <= 0.
#include <cmath>
#include <stdexcept>

#include "ops/cuda/common.cuh"
#include "ops/batch_norm.h"

namespace cs::cuda {
namespace {

// (x - k[c])*k[C+c] + k[2C+c]   (k packs center, scale, shift: [3][C])
__device__ __forceinline__ float affine_value(float x, const float* __restrict__ k, int64_t c, int64_t C) {
  return fmaf(x - k[c], k[C + c], k[2 * C + c]);
}

// y = affine(x), or max(0, affine(x)) with relu
__global__ void affine_kernel(const float* __restrict__ x, const float* __restrict__ k, bool relu,
                              float* __restrict__ y, int64_t n, int64_t C) {
  CS_GRID_STRIDE(i, n) {
    const float v = affine_value(x[i], k, i % C, C);
    y[i] = relu ? fmaxf(v, 0.0f) : v;
  }
}

// g = dy where affine(x) > 0, else 0: the gradient through the fused ReLU
__global__ void relu_mask_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                 const float* __restrict__ k, float* __restrict__ g, int64_t n, int64_t C) {
  CS_GRID_STRIDE(i, n) g[i] = affine_value(x[i], k, i % C, C) > 0.0f ? dy[i] : 0.0f;
}

// dx[r,c] = beta*dx + k_dy[c]*dy + k_x[c]*(x - m[c]) + k_0[c]   (k packs m, k_dy, k_x, k_0: [4][C])
__global__ void bn_dx_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                             const float* __restrict__ k, float* dx, float beta, int64_t n, int64_t C) {
  CS_GRID_STRIDE(i, n) {
    const int64_t c = i % C;
    const float v = fmaf(k[C + c], dy[i], fmaf(k[2 * C + c], x[i] - k[c], k[3 * C + c]));
    store_beta(&dx[i], v, beta);
  }
}

// From sum(x), sum(x^2): batch mean, biased variance, invstd, running statistics (unbiased
// variance), and the affine coefficients of the normalisation.
__global__ void bn_train_stats_kernel(const double* __restrict__ sums, const float* __restrict__ gamma,
                                      const float* __restrict__ beta, int64_t M, int64_t C, float decay,
                                      float eps, float* save_mean, float* save_invstd, float* running_mean,
                                      float* running_var, float* __restrict__ coef) {
  CS_GRID_STRIDE(c, C) {
    const double mean = sums[c] / static_cast<double>(M);
    double var = sums[C + c] / static_cast<double>(M) - mean * mean;
    if (var < 0.0) var = 0.0;
    const double invstd = 1.0 / sqrt(var + static_cast<double>(eps));
    const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    running_mean[c] = decay * running_mean[c] + (1.0f - decay) * static_cast<float>(mean);
    running_var[c] = decay * running_var[c] + (1.0f - decay) * static_cast<float>(unbiased);
    coef[c] = static_cast<float>(mean);
    coef[C + c] = gamma[c] * static_cast<float>(invstd);  // as the backward recomputes it
    coef[2 * C + c] = beta[c];
  }
}

// Inference: y = gamma*(x - rm)*invstd_r + beta as one affine map per channel.
__global__ void bn_infer_coef_kernel(const float* __restrict__ gamma, const float* __restrict__ beta,
                                     const float* __restrict__ rm, const float* __restrict__ rv, float eps,
                                     int64_t C, float* __restrict__ coef) {
  CS_GRID_STRIDE(c, C) {
    const double invstd = 1.0 / sqrt(static_cast<double>(rv[c]) + eps);
    coef[c] = rm[c];
    coef[C + c] = static_cast<float>(static_cast<double>(gamma[c]) * invstd);
    coef[2 * C + c] = beta[c];
  }
}

// Training backward, from s_dy = sum(dy) and s_dyxc = sum(dy*(x-mean)):
//   dbeta = s_dy, dgamma = invstd*s_dyxc,
//   dx = gamma*invstd*(dy - s_dy/M - (x-mean)*invstd*dgamma/M).
// Inference backward (train = false, mean = running mean, invstd from the running variance):
//   dx = gamma*invstd*dy, with the same dgamma and dbeta.
__global__ void bn_backward_coef_kernel(const double* __restrict__ sums, const float* __restrict__ gamma,
                                        const float* __restrict__ mean, const float* __restrict__ invstd_in,
                                        const float* __restrict__ running_var, float eps, bool train,
                                        int64_t M, int64_t C, float* dgamma, float beta_dgamma, float* dbeta,
                                        float beta_dbeta, float* __restrict__ k) {
  CS_GRID_STRIDE(c, C) {
    const double invstd =
        train ? static_cast<double>(invstd_in[c]) : 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    const double s_dy = sums ? sums[c] : 0.0;  // null only for an inference dx alone
    const double dg = sums ? invstd * sums[C + c] : 0.0;
    if (dgamma) store_beta(&dgamma[c], static_cast<float>(dg), beta_dgamma);
    if (dbeta) store_beta(&dbeta[c], static_cast<float>(s_dy), beta_dbeta);
    if (k) {
      const double g = static_cast<double>(gamma[c]) * invstd;
      const double inv_m = 1.0 / static_cast<double>(M);
      k[c] = mean[c];
      k[C + c] = static_cast<float>(g);
      k[2 * C + c] = train ? static_cast<float>(-g * invstd * dg * inv_m) : 0.0f;
      k[3 * C + c] = train ? static_cast<float>(-g * s_dy * inv_m) : 0.0f;
    }
  }
}

struct BnDims {
  int64_t M, C;
};

BnDims bn_dims(const Tensor& x) {  // x [..., C] as [M, C]
  const int64_t C = x.dim(-1);
  return {C > 0 ? x.numel() / C : 0, C};
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                              Tensor& running_var, float decay, float eps) {
  const auto [M, C] = bn_dims(x);
  if (C == 0) return;
  Scratch sums(sizeof(double) * 2 * C);
  Scratch coef(sizeof(float) * 3 * C);
  channel_sums(ChannelSum::SumSquares, x.data(), nullptr, nullptr, M, C, sums.as<double>());
  launch("bn_train_stats_kernel", bn_train_stats_kernel, C, sums.as<double>(), gamma.data(), beta.data(), M, C,
         decay, eps, save_mean.data(), save_invstd.data(), running_mean.data(), running_var.data(),
         coef.as<float>());
  launch("affine_kernel", affine_kernel, M * C, x.data(), coef.as<float>(), relu, y.data(), M * C, C);
}

void batch_norm_forward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                              const Tensor& running_mean, const Tensor& running_var, Tensor& y, float eps) {
  const auto [M, C] = bn_dims(x);
  if (M * C == 0) return;
  Scratch coef(sizeof(float) * 3 * C);
  launch("bn_infer_coef_kernel", bn_infer_coef_kernel, C, gamma.data(), beta.data(), running_mean.data(),
         running_var.data(), eps, C, coef.as<float>());
  launch("affine_kernel", affine_kernel, M * C, x.data(), coef.as<float>(), relu, y.data(), M * C, C);
}

namespace {

// The forward's coefficients in training mode, from what it saved (bn_train_stats_kernel's).
__global__ void bn_train_coef_kernel(const float* __restrict__ mean, const float* __restrict__ gamma,
                                     const float* __restrict__ invstd, const float* __restrict__ beta, int64_t C,
                                     float* __restrict__ coef) {
  CS_GRID_STRIDE(c, C) {
    coef[c] = mean[c];
    coef[C + c] = gamma[c] * invstd[c];
    coef[2 * C + c] = beta[c];
  }
}

// Shared by both backward modes: sums, coefficients (and dgamma/dbeta), then dx.
void bn_backward(bool train, const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                 const Tensor& mean, const Tensor& invstd, const Tensor& running_var, float eps,
                 const Tensor& dy_in, float* dx, float beta_dx, float* dgamma, float beta_dgamma, float* dbeta,
                 float beta_dbeta) {
  const auto [M, C] = bn_dims(x);
  if (C == 0 || (!dx && !dgamma && !dbeta)) return;
  // Through the fused ReLU, everything below sees g = masked dy in place of dy.
  Tensor dy = dy_in;
  if (relu && M * C > 0) {
    Scratch fwd(sizeof(float) * 3 * C);
    if (train)
      launch("bn_train_coef_kernel", bn_train_coef_kernel, C, mean.data(), gamma.data(), invstd.data(),
             beta.data(), C, fwd.as<float>());
    else
      launch("bn_infer_coef_kernel", bn_infer_coef_kernel, C, gamma.data(), beta.data(), mean.data(),
             running_var.data(), eps, C, fwd.as<float>());
    dy = Tensor::empty(dy_in.shape(), Device::CUDA);
    launch("relu_mask_kernel", relu_mask_kernel, M * C, x.data(), dy_in.data(), fwd.as<float>(), dy.data(),
           M * C, C);
  }
  // Inference dx needs no sums; the sums are needed for dgamma/dbeta, and for the training dx.
  const bool need_sums = dgamma || dbeta || train;
  Scratch sums(need_sums ? sizeof(double) * 2 * C : 0);
  Scratch coef(dx ? sizeof(float) * 4 * C : 0);
  if (need_sums)
    channel_sums(ChannelSum::Centered, x.data(), dy.data(), mean.data(), M, C, sums.as<double>());
  launch("bn_backward_coef_kernel", bn_backward_coef_kernel, C, need_sums ? sums.as<double>() : nullptr,
         gamma.data(), mean.data(), train ? invstd.data() : nullptr, train ? nullptr : running_var.data(), eps,
         train, M, C, dgamma, beta_dgamma, dbeta, beta_dbeta, coef.as<float>());
  if (dx) launch("bn_dx_kernel", bn_dx_kernel, M * C, x.data(), dy.data(), coef.as<float>(), dx, beta_dx, M * C, C);
}

}  // namespace

void batch_norm_backward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy, float* dx,
                               float beta_dx, float* dgamma, float beta_dgamma, float* dbeta, float beta_dbeta) {
  bn_backward(true, x, gamma, beta, relu, save_mean, save_invstd, Tensor(), 0.0f, dy, dx,
              beta_dx, dgamma, beta_dgamma, dbeta, beta_dbeta);
}

void batch_norm_backward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                               const Tensor& running_mean, const Tensor& running_var, float eps,
                               const Tensor& dy, float* dx, float beta_dx, float* dgamma, float beta_dgamma,
                               float* dbeta, float beta_dbeta) {
  bn_backward(false, x, gamma, beta, relu, running_mean, Tensor(), running_var, eps, dy, dx,
              beta_dx, dgamma, beta_dgamma, dbeta, beta_dbeta);
}

}  // namespace cs::cuda
