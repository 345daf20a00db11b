// CPU batch norm over all leading dims of x [..., C] (NHWC: per channel over N, H, W).
// Statistics are one pass of shifted moments with double accumulators, threaded over rows with
// per-thread partial sums (channel_sums).
#include <algorithm>
#include <cmath>

#include "ops/cpu/common.h"
#include "ops/batch_norm.h"

namespace cs::cpu {

using detail::channel_sums;
using detail::kParallelMin;

namespace {

struct BnDims {
  int64_t rows, C;
};

BnDims bn_dims(const Tensor& x) {  // x [..., C] as [rows, C]
  const int64_t C = x.dim(-1);
  return {C ? x.numel() / C : 0, C};
}

// y = (x - m[c])*a[c] + b[c] for every row of [rows, C]. Centring first keeps precision when
// |mean| is large against the spread.
void affine_rows(const float* x, const float* m, const float* a, const float* b, float* y,
                 int64_t rows, int64_t C) {
#pragma omp parallel for if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * C;
    float* out = y + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) out[c] = (in[c] - m[c]) * a[c] + b[c];
  }
}

// acc[c] += sum over rows [r0, r1) of d, acc[C + c] += sum of d^2, with d = x[r, c] - k[c].
// With a shift k near the mean (the first row), the one-pass variance E[d^2] - E[d]^2 in double
// loses nothing measurable against float inputs.
void shifted_moments(const float* __restrict x, const float* __restrict k, int64_t r0, int64_t r1,
                     int64_t C, double* __restrict acc) {
  double* __restrict acc2 = acc + C;
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict in = x + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const double d = static_cast<double>(in[c]) - k[c];
      acc[c] += d;
      acc2[c] += d * d;
    }
  }
}

// acc[c] += sum dy[r, c]; acc[C + c] += sum dy[r, c]*(x[r, c] - m[c])
void grad_sums(const float* __restrict x, const float* __restrict dy, const float* __restrict m,
               int64_t r0, int64_t r1, int64_t C, double* __restrict acc) {
  double* __restrict acc2 = acc + C;
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict in = x + r * C;
    const float* __restrict d = dy + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      acc[c] += d[c];
      acc2[c] += static_cast<double>(d[c]) * (in[c] - m[c]);
    }
  }
}

void store_channels(const std::vector<double>& v, size_t off, float* out, float beta, int64_t C) {
  if (!out) return;
  for (int64_t c = 0; c < C; ++c) detail::store(out + c, static_cast<float>(v[off + c]), beta);
}

}  // namespace

// x [..., C], gamma, beta [C] -> y like x; save_mean, save_invstd [C]; running stats [C] updated.
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                              Tensor& running_var, float decay, float eps) {
  const auto [rows, C] = bn_dims(x);
  const float* px = x.data();

  const std::vector<double> mom = channel_sums(
      rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) { shifted_moments(px, px, r0, r1, C, acc); });
  std::vector<double> mean(C), variance(C);
  for (int64_t c = 0; c < C; ++c) {
    const double m1 = mom[c] / static_cast<double>(rows), m2 = mom[C + c] / static_cast<double>(rows);
    mean[c] = px[c] + m1;
    variance[c] = std::max(m2 - m1 * m1, 0.0);  // biased
  }

  std::vector<float> a(C);
  float *sm = save_mean.data(), *si = save_invstd.data();
  float *rm = running_mean.data(), *rv = running_var.data();
  const float *g = gamma.data(), *bt = beta.data();
  // Unbiased running variance (Bessel); a single row has no spread estimate: keep the biased one.
  const double bessel = rows > 1 ? static_cast<double>(rows) / (rows - 1) : 1.0;
  for (int64_t c = 0; c < C; ++c) {
    const double var = variance[c];
    const double invstd = 1.0 / std::sqrt(var + eps);
    sm[c] = static_cast<float>(mean[c]);
    si[c] = static_cast<float>(invstd);
    a[c] = static_cast<float>(g[c] * invstd);
    rm[c] = static_cast<float>(decay * rm[c] + (1.0 - decay) * mean[c]);
    rv[c] = static_cast<float>(decay * rv[c] + (1.0 - decay) * var * bessel);
  }
  affine_rows(px, sm, a.data(), bt, y.data(), rows, C);
}

// y = gamma*(x - running_mean)/sqrt(running_var + eps) + beta
void batch_norm_forward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              const Tensor& running_mean, const Tensor& running_var, Tensor& y,
                              float eps) {
  const auto [rows, C] = bn_dims(x);
  std::vector<float> a(C);
  const float *g = gamma.data(), *bt = beta.data(), *rm = running_mean.data(), *rv = running_var.data();
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
    a[c] = static_cast<float>(g[c] * invstd);
  }
  affine_rows(x.data(), rm, a.data(), bt, y.data(), rows, C);
}

// With xhat = (x - mean)*invstd and M rows:
//   dbeta = sum dy, dgamma = sum dy*xhat,
//   dx = gamma*invstd*(dy - dbeta/M - xhat*dgamma/M)
void batch_norm_backward_train(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                               const Tensor& save_invstd, const Tensor& dy, float* dx, float beta_dx,
                               float* dgamma, float beta_dgamma, float* dbeta, float beta_dbeta) {
  const auto [rows, C] = bn_dims(x);
  if (!dx && !dgamma && !dbeta) return;
  const float *px = x.data(), *pd = dy.data(), *sm = save_mean.data(), *si = save_invstd.data();
  // acc[0..C) = sum dy, acc[C..2C) = sum dy*(x-mean); the invstd factor is applied afterwards.
  const std::vector<double> s = channel_sums(
      rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) { grad_sums(px, pd, sm, r0, r1, C, acc); });
  std::vector<double> sums(2 * C);
  for (int64_t c = 0; c < C; ++c) {
    sums[c] = s[c];
    sums[C + c] = s[C + c] * si[c];
  }
  store_channels(sums, C, dgamma, beta_dgamma, C);
  store_channels(sums, 0, dbeta, beta_dbeta, C);
  if (!dx) return;
  // dx = k1*dy + k2*(x - mean) + k3 per channel, folded from the formula above.
  std::vector<float> k1(C), k2(C), k3(C);
  const float* g = gamma.data();
  for (int64_t c = 0; c < C; ++c) {
    const double gi = static_cast<double>(g[c]) * si[c], M = static_cast<double>(rows);
    const double mdy = sums[c] / M, mdyx = sums[C + c] / M;  // mean dy, mean dy*xhat
    k1[c] = static_cast<float>(gi);
    k2[c] = static_cast<float>(-gi * mdyx * si[c]);
    k3[c] = static_cast<float>(-gi * mdy);
  }
  const float *a = k1.data(), *b = k2.data(), *e = k3.data();
#pragma omp parallel for if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float *in = px + r * C, *d = pd + r * C;
    float* out = dx + r * C;
    if (beta_dx == 0.0f) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = a[c] * d[c] + b[c] * (in[c] - sm[c]) + e[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = beta_dx * out[c] + (a[c] * d[c] + b[c] * (in[c] - sm[c]) + e[c]);
    }
  }
}

// Inference mode is a per-channel affine map: dx = dy*gamma*invstd, dgamma = sum dy*xhat,
// dbeta = sum dy, with invstd from the running variance.
void batch_norm_backward_infer(const Tensor& x, const Tensor& gamma, const Tensor& running_mean,
                               const Tensor& running_var, float eps, const Tensor& dy, float* dx,
                               float beta_dx, float* dgamma, float beta_dgamma, float* dbeta,
                               float beta_dbeta) {
  const auto [rows, C] = bn_dims(x);
  const float *px = x.data(), *pd = dy.data(), *rm = running_mean.data(), *rv = running_var.data();
  std::vector<float> invstd(C);
  for (int64_t c = 0; c < C; ++c)
    invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(rv[c]) + eps));
  if (dgamma || dbeta) {
    const std::vector<double> s = channel_sums(
        rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) { grad_sums(px, pd, rm, r0, r1, C, acc); });
    std::vector<double> sums(s);
    for (int64_t c = 0; c < C; ++c) sums[C + c] *= invstd[c];
    store_channels(sums, C, dgamma, beta_dgamma, C);
    store_channels(sums, 0, dbeta, beta_dbeta, C);
  }
  if (!dx) return;
  std::vector<float> a(C);
  const float* g = gamma.data();
  for (int64_t c = 0; c < C; ++c) a[c] = g[c] * invstd[c];
  const float* pa = a.data();
#pragma omp parallel for if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* d = pd + r * C;
    float* out = dx + r * C;
    if (beta_dx == 0.0f) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = pa[c] * d[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) out[c] = beta_dx * out[c] + pa[c] * d[c];
    }
  }
}

}  // namespace cs::cpu
