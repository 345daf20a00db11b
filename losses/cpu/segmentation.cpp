// CPU kernels of the segmentation losses: softmax per pixel, fused with the Dice sums or the
// cross-entropy, forward and backward. One image per OpenMP thread (sums are per image).
#include <algorithm>
#include <cmath>
#include <vector>

#include "losses/segmentation.h"

namespace cs::cpu {
namespace {

// p[0..C) = softmax(x[0..C)); returns log(sum exp x) (for the cross-entropy).
inline float softmax_pixel(const float* x, int C, float* p) {
  float m = x[0];
  for (int c = 1; c < C; ++c) m = std::max(m, x[c]);
  float s = 0.0f;
  for (int c = 0; c < C; ++c) {
    p[c] = std::exp(x[c] - m);
    s += p[c];
  }
  const float inv = 1.0f / s;
  for (int c = 0; c < C; ++c) p[c] *= inv;
  return m + std::log(s);
}

inline void store(float* out, float v, float beta) { *out = beta == 0.0f ? v : *out + v; }

}  // namespace

void dice_forward(const Tensor& logits, const Tensor& labels, int first_class, Tensor& sums, Tensor& loss) {
  const int64_t N = logits.dim(0), C = logits.dim(3), HW = logits.dim(1) * logits.dim(2);
  const float* x = logits.data();
  const float* y = labels.data();
  float* out = sums.data();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    double acc[kMaxClasses][3] = {};
    float p[kMaxClasses];
    for (int64_t i = 0; i < HW; ++i) {
      const int64_t o = (n * HW + i) * C;
      softmax_pixel(x + o, static_cast<int>(C), p);
      for (int64_t c = 0; c < C; ++c) {
        acc[c][0] += p[c] * y[o + c];
        acc[c][1] += p[c];
        acc[c][2] += y[o + c];
      }
    }
    for (int64_t c = 0; c < C; ++c)
      for (int k = 0; k < 3; ++k) out[(n * C + c) * 3 + k] = static_cast<float>(acc[c][k]);
  }
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = first_class; c < C; ++c) {
      const float* s = out + (n * C + c) * 3;
      total += 2.0 * s[0] / (double(s[1]) + s[2] + kDiceEps);
    }
  loss.data()[0] = static_cast<float>(1.0 - total / double(N * (C - first_class)));
}

void dice_backward(const Tensor& logits, const Tensor& labels, const Tensor& sums, int first_class,
                   const float* dloss, float* dlogits, float beta) {
  const int64_t N = logits.dim(0), C = logits.dim(3), HW = logits.dim(1) * logits.dim(2);
  const float* x = logits.data();
  const float* y = labels.data();
  const float* s = sums.data();
  const float scale = dloss[0] / static_cast<float>(N * (C - first_class));
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    // d dice[n,c] / d p = 2 (y (P+Y+eps) - I) / (P+Y+eps)^2; the loss has a minus sign.
    float ay[kMaxClasses], b0[kMaxClasses];
    for (int64_t c = 0; c < C; ++c) {
      const float* t = s + (n * C + c) * 3;
      const float den = t[1] + t[2] + kDiceEps;
      const bool used = c >= first_class;
      ay[c] = used ? -2.0f * scale / den : 0.0f;                   // coefficient of y
      b0[c] = used ? 2.0f * scale * t[0] / (den * den) : 0.0f;     // constant term
    }
    float p[kMaxClasses], dp[kMaxClasses];
    for (int64_t i = 0; i < HW; ++i) {
      const int64_t o = (n * HW + i) * C;
      softmax_pixel(x + o, static_cast<int>(C), p);
      float dot = 0.0f;
      for (int64_t c = 0; c < C; ++c) {
        dp[c] = ay[c] * y[o + c] + b0[c];
        dot += p[c] * dp[c];
      }
      for (int64_t c = 0; c < C; ++c) store(dlogits + o + c, p[c] * (dp[c] - dot), beta);
    }
  }
}

void weighted_ce_forward(const Tensor& logits, const Tensor& labels, const Tensor& weights, Tensor& loss) {
  const int64_t N = logits.dim(0), C = logits.dim(3), HW = logits.dim(1) * logits.dim(2);
  const float* x = logits.data();
  const float* y = labels.data();
  const float* w = weights.data();
  std::vector<double> per_image(N, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float p[kMaxClasses];
    double acc = 0.0;
    for (int64_t i = 0; i < HW; ++i) {
      const int64_t o = (n * HW + i) * C;
      const float lse = softmax_pixel(x + o, static_cast<int>(C), p);
      float wp = 0.0f, ce = 0.0f;
      for (int64_t c = 0; c < C; ++c) {
        wp += w[c] * y[o + c];
        ce += y[o + c] * (lse - x[o + c]);
      }
      acc += double(wp) * ce;
    }
    per_image[n] = acc;
  }
  double total = 0.0;
  for (double v : per_image) total += v;
  loss.data()[0] = static_cast<float>(total / double(N * HW));
}

void weighted_ce_backward(const Tensor& logits, const Tensor& labels, const Tensor& weights, const float* dloss,
                          float* dlogits, float beta) {
  const int64_t N = logits.dim(0), C = logits.dim(3), HW = logits.dim(1) * logits.dim(2);
  const float* x = logits.data();
  const float* y = labels.data();
  const float* w = weights.data();
  const float scale = dloss[0] / static_cast<float>(N * HW);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float p[kMaxClasses];
    for (int64_t i = 0; i < HW; ++i) {
      const int64_t o = (n * HW + i) * C;
      softmax_pixel(x + o, static_cast<int>(C), p);
      float wp = 0.0f, ysum = 0.0f;
      for (int64_t c = 0; c < C; ++c) {
        wp += w[c] * y[o + c];
        ysum += y[o + c];
      }
      // d/dx_c of -sum_k y_k log p_k = p_c sum_k y_k - y_c
      for (int64_t c = 0; c < C; ++c) store(dlogits + o + c, scale * wp * (p[c] * ysum - y[o + c]), beta);
    }
  }
}

}  // namespace cs::cpu
