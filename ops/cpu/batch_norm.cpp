// CPU batch norm over all leading dims of x [..., C] (NHWC: per channel over N, H, W), with an
// optional fused ReLU. Statistics are one pass of shifted moments with double accumulators,
// threaded over rows with per-thread partial sums (channel_sums).
//
// The fused ReLU saves a pass over memory each way: the forward writes max(0, bn(x)) directly,
// and the backward recomputes bn(x) from x (which it reads anyway) to mask dy, instead of
// reading a stored output. The recomputation is the forward's own expression on the same
// per-channel coefficients (Affine), so the mask, and every result, is bit for bit that of
// relu(batch_norm(x)).
//
// Activations are fp32 or bf16 (every kernel is a template on the element type T); statistics,
// coefficients and the arithmetic are fp32/double either way, and bf16 results are rounded once.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/cpu/common.h"
#include "ops/batch_norm.h"

namespace cs::cpu {

using detail::channel_sums;
using detail::kParallelMin;
using detail::load;
using detail::put;

namespace {

struct BnDims {
  int64_t rows, C;
};

BnDims bn_dims(const Tensor& x) {  // x [..., C] as [rows, C]
  const int64_t C = x.dim(-1);
  return {C ? x.numel() / C : 0, C};
}

// The normalisation as a per-channel affine map: bn(x) = (x - mean[c])*scale[c] + shift[c].
// Centring first keeps precision when |mean| is large against the spread.
struct Affine {
  const float* mean;
  std::vector<float> scale;  // gamma*invstd
  const float* shift;        // beta
};

// Training: from the saved statistics, so that the backward rebuilds exactly the forward's map.
Affine train_affine(const Tensor& save_mean, const Tensor& gamma, const Tensor& save_invstd, const Tensor& beta) {
  const int64_t C = gamma.numel();
  Affine f{save_mean.data(), std::vector<float>(C), beta.data()};
  const float *g = gamma.data(), *si = save_invstd.data();
  for (int64_t c = 0; c < C; ++c) f.scale[c] = g[c] * si[c];
  return f;
}

// 1/sqrt(running var + eps), rounded to float.
std::vector<float> running_invstd(const Tensor& running_var, float eps) {
  const float* rv = running_var.data();
  std::vector<float> invstd(running_var.numel());
  for (size_t c = 0; c < invstd.size(); ++c)
    invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(rv[c]) + eps));
  return invstd;
}

// Inference: from the running statistics, the scale rounded once from double.
Affine infer_affine(const Tensor& running_mean, const Tensor& gamma, const Tensor& running_var, float eps,
                    const Tensor& beta) {
  const int64_t C = gamma.numel();
  Affine f{running_mean.data(), std::vector<float>(C), beta.data()};
  const float *g = gamma.data(), *rv = running_var.data();
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
    f.scale[c] = static_cast<float>(g[c] * invstd);
  }
  return f;
}

inline float affine_value(float x, float m, float a, float b) { return (x - m) * a + b; }

// dy, or dy masked by the fused ReLU where the forward output was 0 (+0.0, as relu's backward
// writes). A bit mask rather than a select: GCC turns the select into a branch and then does
// not vectorise the loops around it.
template <bool kRelu>
inline float masked(float dy, float x, float m, float a, float b) {
  if constexpr (!kRelu) return dy;
  const uint32_t keep = 0u - static_cast<uint32_t>(affine_value(x, m, a, b) > 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &dy, sizeof bits);
  bits &= keep;
  std::memcpy(&dy, &bits, sizeof bits);
  return dy;
}

// The [rows, C] elements as chunks of P contiguous elements (the last may be shorter), P the
// least multiple of C that is at least 64. Every chunk starts at channel 0, so per-channel
// coefficients repeated to length P serve them all, and the loop over a chunk has 64 or more
// iterations where a row of 16 channels would give the vectoriser one.
// Asks for the lines kPrefetchBytes past [p, p + n) of a stream: without it the lines in flight
// are what the out-of-order window holds, which for bf16 is half as many bytes as for fp32.
constexpr int64_t kPrefetchBytes = 4096;
template <class T>
inline void prefetch_ahead(const T* p, int64_t n) {
  const char* c = reinterpret_cast<const char*>(p) + kPrefetchBytes;
  for (int64_t b = 0; b < n * static_cast<int64_t>(sizeof(T)); b += 64) __builtin_prefetch(c + b);
}

struct Chunks {
  int64_t P, n;
  Chunks(int64_t rows, int64_t C) : P(C * ((63 + C) / std::max<int64_t>(C, 1))), n(rows * C) {}
  int64_t count() const { return P ? (n + P - 1) / P : 0; }
  int64_t length(int64_t k) const { return std::min(P, n - k * P); }
  std::vector<float> repeat(const float* v, int64_t C) const {
    std::vector<float> r(P);
    for (int64_t i = 0; i < P; ++i) r[i] = v[i % C];
    return r;
  }
};

template <bool kRelu, class T>
void affine_rows(const T* x, const Affine& f, T* y, int64_t rows, int64_t C) {
  const Chunks ch(rows, C);
  if (ch.n == 0) return;
  const std::vector<float> mv = ch.repeat(f.mean, C), av = ch.repeat(f.scale.data(), C), bv = ch.repeat(f.shift, C);
  const float *m = mv.data(), *a = av.data(), *b = bv.data();
#pragma omp parallel for if (ch.n >= kParallelMin)
  for (int64_t k = 0; k < ch.count(); ++k) {
    const T* in = x + k * ch.P;
    T* out = y + k * ch.P;
    const int64_t len = ch.length(k);
    prefetch_ahead(in, len);
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
      const float v = affine_value(load(in + i), m[i], a[i], b[i]);
      put(out + i, kRelu ? std::max(v, 0.0f) : v);
    }
  }
}

template <class T>
void affine_rows(bool relu, const T* x, const Affine& f, T* y, int64_t rows, int64_t C) {
  (relu ? affine_rows<true, T> : affine_rows<false, T>)(x, f, y, rows, C);
}

// acc[c] += sum over rows [r0, r1) of a(r, c), acc[C + c] += sum of b(r, c), where
// terms(r, c, a, b) sets the two terms, of type Sum. The running sums of 16 channels stay in
// registers over a tile of rows (a loop over all C channels per row keeps them in memory, and
// each row's additions then wait on the previous row's stores); the tile (about 16 KB of the
// input) stays in L1 while the channel blocks walk over it. ahead(r) is called once per row,
// first, to prefetch its streams (prefetch_ahead).
// Sum = double: each channel adds its rows in row order into acc, as a plain loop would, so the
// result is that loop's to the bit (fp32 activations). Sum = float (bf16 activations, whose
// values carry 8 bits): a tile's rows are summed in float, twice the lanes per instruction, and
// each tile's sum is added into acc in double.
template <class Sum, class Terms, class Ahead>
void two_channel_sums(int64_t r0, int64_t r1, int64_t C, double* __restrict acc, Terms terms, Ahead ahead) {
  constexpr int64_t K = 16;
  constexpr bool kExact = std::is_same_v<Sum, double>;
  double* __restrict acc2 = acc + C;
  if (C % K != 0) {
    for (int64_t r = r0; r < r1; ++r) {
      ahead(r);
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        Sum a, b;
        terms(r, c, a, b);
        acc[c] += a;
        acc2[c] += b;
      }
    }
    return;
  }
  const int64_t tile = std::max<int64_t>(1, 4096 / C);
  for (int64_t t0 = r0; t0 < r1; t0 += tile) {
    const int64_t t1 = std::min(r1, t0 + tile);
    for (int64_t c0 = 0; c0 < C; c0 += K) {
      Sum s1[K], s2[K];
      for (int64_t k = 0; k < K; ++k) s1[k] = kExact ? acc[c0 + k] : 0, s2[k] = kExact ? acc2[c0 + k] : 0;
      for (int64_t r = t0; r < t1; ++r) {
        if (c0 == 0) ahead(r);
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) {
          Sum a, b;
          terms(r, c0 + k, a, b);
          s1[k] += a;
          s2[k] += b;
        }
      }
      for (int64_t k = 0; k < K; ++k) {
        if constexpr (kExact) acc[c0 + k] = s1[k], acc2[c0 + k] = s2[k];
        else acc[c0 + k] += s1[k], acc2[c0 + k] += s2[k];
      }
    }
  }
}

// double sums for fp32 activations, float tile sums for bf16 ones (two_channel_sums).
template <class T>
using SumOf = std::conditional_t<std::is_same_v<T, bf16>, float, double>;

// acc[c] += sum over rows [r0, r1) of d, acc[C + c] += sum of d^2, with d = x[r, c] - k[c].
// With a shift k near the mean (the first row), the one-pass variance E[d^2] - E[d]^2 in double
// loses nothing measurable against float inputs (nor do float sums over a tile of bf16 rows).
template <class T>
void shifted_moments(const T* __restrict x, const float* __restrict k, int64_t r0, int64_t r1,
                     int64_t C, double* acc) {
  using S = SumOf<T>;
  two_channel_sums<S>(
      r0, r1, C, acc,
      [=](int64_t r, int64_t c, S& a, S& b) {
        const S d = static_cast<S>(load(x + r * C + c)) - k[c];
        a = d;
        b = d * d;
      },
      [=](int64_t r) { prefetch_ahead(x + r * C, C); });
}

// acc[c] += sum g, acc[C + c] += sum g*(x[r, c] - m[c]), with g the (masked) dy.
template <bool kRelu, class T>
void grad_sums(const T* __restrict x, const T* __restrict dy, const Affine& f, int64_t r0,
               int64_t r1, int64_t C, double* acc) {
  const float *m = f.mean, *a = f.scale.data(), *b = f.shift;
  using S = SumOf<T>;
  two_channel_sums<S>(
      r0, r1, C, acc,
      [=](int64_t r, int64_t c, S& s1, S& s2) {
        const float in = load(x + r * C + c);
        const float g = masked<kRelu>(load(dy + r * C + c), in, m[c], a[c], b[c]);
        s1 = g;
        s2 = static_cast<S>(g) * (in - m[c]);
      },
      [=](int64_t r) {
        prefetch_ahead(x + r * C, C);
        prefetch_ahead(dy + r * C, C);
      });
}

template <class T>
std::vector<double> grad_sums(bool relu, const T* x, const T* dy, const Affine& f, int64_t rows, int64_t C) {
  return channel_sums(rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) {
    relu ? grad_sums<true>(x, dy, f, r0, r1, C, acc) : grad_sums<false>(x, dy, f, r0, r1, C, acc);
  });
}

// dx = beta*dx + k1[c]*g + k2[c]*(x - m[c]) + k3[c], with g the (masked) dy.
template <bool kRelu, class T>
void dx_rows(const T* x, const T* dy, const Affine& f, const float* k1c, const float* k2c, const float* k3c, T* dx,
             float beta, int64_t rows, int64_t C) {
  const Chunks ch(rows, C);
  if (ch.n == 0) return;
  const std::vector<float> mv = ch.repeat(f.mean, C), av = ch.repeat(f.scale.data(), C), bv = ch.repeat(f.shift, C);
  const std::vector<float> k1v = ch.repeat(k1c, C), k2v = ch.repeat(k2c, C), k3v = ch.repeat(k3c, C);
  const float *m = mv.data(), *a = av.data(), *b = bv.data(), *k1 = k1v.data(), *k2 = k2v.data(), *k3 = k3v.data();
#pragma omp parallel for if (ch.n >= kParallelMin)
  for (int64_t k = 0; k < ch.count(); ++k) {
    const T *in = x + k * ch.P, *d = dy + k * ch.P;
    T* out = dx + k * ch.P;
    const int64_t len = ch.length(k);
    prefetch_ahead(in, len);
    prefetch_ahead(d, len);
    auto value = [&](int64_t i) {
      const float xi = load(in + i);
      return k1[i] * masked<kRelu>(load(d + i), xi, m[i], a[i], b[i]) + k2[i] * (xi - m[i]) + k3[i];
    };
    if (beta == 0.0f) {  // two loops: a select that reads out[] would not vectorise
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) put(out + i, value(i));
    } else {
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) put(out + i, beta * load(out + i) + value(i));
    }
  }
}

template <class T>
void dx_rows(bool relu, const T* x, const T* dy, const Affine& f, const std::vector<float>& k1,
             const std::vector<float>& k2, const std::vector<float>& k3, T* dx, float beta, int64_t rows, int64_t C) {
  (relu ? dx_rows<true, T> : dx_rows<false, T>)(x, dy, f, k1.data(), k2.data(), k3.data(), dx, beta, rows, C);
}

void store_channels(const std::vector<double>& v, size_t off, float* out, float beta, int64_t C) {
  if (!out) return;
  for (int64_t c = 0; c < C; ++c) detail::store(out + c, static_cast<float>(v[off + c]), beta);
}

template <class T>
void forward_train(const T* px, const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu, T* py,
                   Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var, float decay,
                   float eps) {
  const auto [rows, C] = bn_dims(x);
  std::vector<float> shift(C);  // the first row: near the mean
  for (int64_t c = 0; c < C; ++c) shift[c] = load(px + c);
  const std::vector<double> mom = channel_sums(
      rows, C, 2, [&](int64_t r0, int64_t r1, double* acc) { shifted_moments(px, shift.data(), r0, r1, C, acc); });
  float *sm = save_mean.data(), *si = save_invstd.data();
  float *rm = running_mean.data(), *rv = running_var.data();
  // Unbiased running variance (Bessel); a single row has no spread estimate: keep the biased one.
  const double bessel = rows > 1 ? static_cast<double>(rows) / (rows - 1) : 1.0;
  for (int64_t c = 0; c < C; ++c) {
    const double m1 = mom[c] / static_cast<double>(rows), m2 = mom[C + c] / static_cast<double>(rows);
    const double mean = shift[c] + m1;
    const double var = std::max(m2 - m1 * m1, 0.0);  // biased
    sm[c] = static_cast<float>(mean);
    si[c] = static_cast<float>(1.0 / std::sqrt(var + eps));
    rm[c] = static_cast<float>(decay * rm[c] + (1.0 - decay) * mean);
    rv[c] = static_cast<float>(decay * rv[c] + (1.0 - decay) * var * bessel);
  }
  affine_rows(relu, px, train_affine(save_mean, gamma, save_invstd, beta), py, rows, C);
}

// With g = dy (masked by the ReLU), xhat = (x - mean)*invstd and M rows:
//   dbeta = sum g, dgamma = sum g*xhat,
//   dx = gamma*invstd*(g - dbeta/M - xhat*dgamma/M)
template <class T>
void backward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu, const Tensor& save_mean,
                    const Tensor& save_invstd, const T* px, const T* pd, T* dx, float beta_dx, float* dgamma,
                    float beta_dgamma, float* dbeta, float beta_dbeta) {
  const auto [rows, C] = bn_dims(x);
  if (!dx && !dgamma && !dbeta) return;
  const float* si = save_invstd.data();
  const Affine f = train_affine(save_mean, gamma, save_invstd, beta);
  // sums[0..C) = sum g, sums[C..2C) = sum g*(x-mean)*invstd.
  std::vector<double> sums = grad_sums(relu, px, pd, f, rows, C);
  for (int64_t c = 0; c < C; ++c) sums[C + c] *= si[c];
  store_channels(sums, C, dgamma, beta_dgamma, C);
  store_channels(sums, 0, dbeta, beta_dbeta, C);
  if (!dx) return;
  // dx = k1*g + k2*(x - mean) + k3 per channel, folded from the formula above.
  std::vector<float> k1(C), k2(C), k3(C);
  const float* g = gamma.data();
  for (int64_t c = 0; c < C; ++c) {
    const double gi = static_cast<double>(g[c]) * si[c], M = static_cast<double>(rows);
    const double mdy = sums[c] / M, mdyx = sums[C + c] / M;  // mean g, mean g*xhat
    k1[c] = static_cast<float>(gi);
    k2[c] = static_cast<float>(-gi * mdyx * si[c]);
    k3[c] = static_cast<float>(-gi * mdy);
  }
  dx_rows(relu, px, pd, f, k1, k2, k3, dx, beta_dx, rows, C);
}

// Inference mode is a per-channel affine map: dx = g*gamma*invstd, dgamma = sum g*xhat,
// dbeta = sum g, with invstd from the running variance and g = dy (masked by the ReLU).
template <class T>
void backward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu, const Tensor& running_mean,
                    const Tensor& running_var, float eps, const T* px, const T* pd, T* dx, float beta_dx,
                    float* dgamma, float beta_dgamma, float* dbeta, float beta_dbeta) {
  const auto [rows, C] = bn_dims(x);
  const std::vector<float> invstd = running_invstd(running_var, eps);
  const Affine f = infer_affine(running_mean, gamma, running_var, eps, beta);
  if (dgamma || dbeta) {
    std::vector<double> sums = grad_sums(relu, px, pd, f, rows, C);
    for (int64_t c = 0; c < C; ++c) sums[C + c] *= invstd[c];
    store_channels(sums, C, dgamma, beta_dgamma, C);
    store_channels(sums, 0, dbeta, beta_dbeta, C);
  }
  if (dx) dx_rows(relu, px, pd, f, f.scale, std::vector<float>(C, 0.0f), std::vector<float>(C, 0.0f), dx,
                  beta_dx, rows, C);
}

}  // namespace

// x [..., C] (fp32 or bf16), gamma, beta [C] -> y like x; save_mean, save_invstd [C]; running
// stats [C] updated.
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                              Tensor& running_var, float decay, float eps) {
  if (x.dtype() == DType::BF16)
    forward_train(x.data_bf16(), x, gamma, beta, relu, y.data_bf16(), save_mean, save_invstd, running_mean,
                  running_var, decay, eps);
  else
    forward_train(x.data(), x, gamma, beta, relu, y.data(), save_mean, save_invstd, running_mean, running_var,
                  decay, eps);
}

// y = gamma*(x - running_mean)/sqrt(running_var + eps) + beta (then max(0, y) with relu)
void batch_norm_forward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                              const Tensor& running_mean, const Tensor& running_var, Tensor& y, float eps) {
  const auto [rows, C] = bn_dims(x);
  const Affine f = infer_affine(running_mean, gamma, running_var, eps, beta);
  if (x.dtype() == DType::BF16) affine_rows(relu, x.data_bf16(), f, y.data_bf16(), rows, C);
  else affine_rows(relu, x.data(), f, y.data(), rows, C);
}

void batch_norm_backward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy, float* dx,
                               float beta_dx, float* dgamma, float beta_dgamma, float* dbeta, float beta_dbeta) {
  backward_train(x, gamma, beta, relu, save_mean, save_invstd, x.data(), dy.data(), dx, beta_dx, dgamma,
                 beta_dgamma, dbeta, beta_dbeta);
}

void batch_norm_backward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                               const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy, bf16* dx,
                               float beta_dx, float* dgamma, float beta_dgamma, float* dbeta, float beta_dbeta) {
  backward_train(x, gamma, beta, relu, save_mean, save_invstd, x.data_bf16(), dy.data_bf16(), dx, beta_dx,
                 dgamma, beta_dgamma, dbeta, beta_dbeta);
}

void batch_norm_backward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                               const Tensor& running_mean, const Tensor& running_var, float eps,
                               const Tensor& dy, float* dx, float beta_dx, float* dgamma, float beta_dgamma,
                               float* dbeta, float beta_dbeta) {
  backward_infer(x, gamma, beta, relu, running_mean, running_var, eps, x.data(), dy.data(), dx, beta_dx, dgamma,
                 beta_dgamma, dbeta, beta_dbeta);
}

void batch_norm_backward_infer(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                               const Tensor& running_mean, const Tensor& running_var, float eps,
                               const Tensor& dy, bf16* dx, float beta_dx, float* dgamma, float beta_dgamma,
                               float* dbeta, float beta_dbeta) {
  backward_infer(x, gamma, beta, relu, running_mean, running_var, eps, x.data_bf16(), dy.data_bf16(), dx,
                 beta_dx, dgamma, beta_dgamma, dbeta, beta_dbeta);
}

}  // namespace cs::cpu
