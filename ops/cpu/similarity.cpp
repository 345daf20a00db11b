// CPU kernels of ops/similarity.h: row normalisation, similarity GEMMs (OpenBLAS), the masked
// NT-Xent log-sum-exp by blocks of anchor rows (OpenMP), and region extraction.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/similarity.h"

namespace cs::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// exp(x) in float, vectorisable inside `omp simd` loops (Cephes-style range reduction to
// [-ln2/2, ln2/2] and a degree-6 polynomial; about 2 ulp). Returns 0 below -87 (and for -inf).
inline float fast_exp(float x) {
  const float xc = std::min(std::max(x, -87.0f), 88.0f);
  const float k = std::nearbyint(xc * 1.44269504088896341f);
  float r = xc - k * 0.693359375f;
  r = r + k * 2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r2 + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < -87.0f ? 0.0f : e * scale;
}

inline float dot(const float* a, const float* b, int64_t d) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < d; ++k) s += a[k] * b[k];
  return s;
}

// softplus(x) = log(1 + e^x), without overflow; softplus(-inf) = 0.
inline float softplus(float x) {
  if (x == kNegInf) return 0.0f;
  return std::max(x, 0.0f) + std::log1p(std::exp(-std::fabs(x)));
}
// sigmoid(x) = 1 / (1 + e^-x); sigmoid(-inf) = 0.
inline float sigmoid(float x) {
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

// zn[i] = z[i] / max(||z[i]||, eps), norms[i] = ||z[i]||.
void normalize_rows(const float* z, int64_t n, int64_t d, float* zn, float* norms) {
#pragma omp parallel for schedule(static) if (n * d > 262144)
  for (int64_t i = 0; i < n; ++i) {
    const float* x = z + i * d;
    const float nrm = std::sqrt(dot(x, x, d));
    const float inv = 1.0f / std::max(nrm, kNormEps);
    float* y = zn + i * d;
#pragma omp simd
    for (int64_t k = 0; k < d; ++k) y[k] = x[k] * inv;
    norms[i] = nrm;
  }
}

// dz = beta*dz + d(zn)/dz^T dzn, row by row: (dzn - zn <zn, dzn>) / ||z|| (dzn / eps when the
// norm was clamped, where zn = z / eps is linear in z).
void normalize_backward(const float* zn, const float* norms, const float* dzn, int64_t n, int64_t d,
                        float* dz, float beta) {
#pragma omp parallel for schedule(static) if (n * d > 262144)
  for (int64_t i = 0; i < n; ++i) {
    const float* y = zn + i * d;
    const float* g = dzn + i * d;
    float* out = dz + i * d;
    const bool clamped = norms[i] < kNormEps;
    const float proj = clamped ? 0.0f : dot(y, g, d);
    const float inv = 1.0f / std::max(norms[i], kNormEps);
    if (beta == 0.0f) {
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) out[k] = (g[k] - y[k] * proj) * inv;
    } else {
#pragma omp simd
      for (int64_t k = 0; k < d; ++k) out[k] += (g[k] - y[k] * proj) * inv;
    }
  }
}

// Masked log-sum-exp of one row s[0..n) (already divided by tau): over j with group[j] != key
// (group non-null) or over j != anchor (group null). -inf when nothing is left.
float masked_lse(const float* s, int64_t n, const int* group, int key, int anchor) {
  float m = kNegInf;
  if (group) {
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, group[j] != key ? s[j] : kNegInf);
  } else {
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, j != anchor ? s[j] : kNegInf);
  }
  if (m == kNegInf) return kNegInf;
  float sum = 0.0f;
  if (group) {
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) sum += group[j] != key ? fast_exp(s[j] - m) : 0.0f;
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) sum += j != anchor ? fast_exp(s[j] - m) : 0.0f;
  }
  return m + std::log(sum);
}

// The anchor rows of the dense rules (rows owning at least one unit), in order.
std::vector<int> anchor_rows(const ContrastIndex& ix, int64_t rows) {
  std::vector<int> out;
  for (int64_t r = 0; r < rows; ++r)
    if (ix.row_unit_off[r + 1] > ix.row_unit_off[r]) out.push_back(static_cast<int>(r));
  return out;
}

// S_blk [nb, n] = (1/tau) * zn[rows_blk] zn^T, with the gathered anchor rows in `a` [nb, d].
void similarity_block(const float* zn, int64_t n, int64_t d, const int* rows_blk, int nb, float tau,
                      float* a, float* s) {
  for (int i = 0; i < nb; ++i) std::memcpy(a + i * d, zn + int64_t(rows_blk[i]) * d, d * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, static_cast<int>(n), static_cast<int>(d),
              1.0f / tau, a, static_cast<int>(d), zn, static_cast<int>(d), 0.0f, s, static_cast<int>(n));
}

float term_value(NegativeRule rule, float lse, float sap) {
  return rule == NegativeRule::AllOthers ? lse - sap : softplus(lse - sap);
}

// Per-term upstream gradient g_t.
std::vector<float> term_grads(const ContrastIndex& ix, int64_t T, const float* dvalues, const float* dloss) {
  std::vector<float> g(T, 0.0f);
  for (int64_t t = 0; t < T; ++t) {
    if (dvalues) g[t] += dvalues[t];
    if (dloss) g[t] += ix.t_weight[t] * dloss[0];
  }
  return g;
}

void explicit_forward(const ContrastIndex& ix, int64_t T, const float* zn, int64_t d, float tau,
                      float* lse, float* sap, float* values) {
  const float inv_tau = 1.0f / tau;
#pragma omp parallel for schedule(dynamic, 16) if (T * d > 262144)
  for (int64_t t = 0; t < T; ++t) {
    const float* za = zn + int64_t(ix.t_anchor[t]) * d;
    const float s_ap = dot(za, zn + int64_t(ix.t_pos[t]) * d, d) * inv_tau;
    float m = kNegInf;
    const int b = ix.neg_off[t], e = ix.neg_off[t + 1];
    std::vector<float> s(e - b);
    for (int k = b; k < e; ++k) {
      s[k - b] = dot(za, zn + int64_t(ix.neg_idx[k]) * d, d) * inv_tau;
      m = std::max(m, s[k - b]);
    }
    float L = kNegInf;
    if (m != kNegInf) {
      float sum = 0.0f;
      for (float v : s) sum += std::exp(v - m);
      L = m + std::log(sum);
    }
    lse[t] = L;
    sap[t] = s_ap;
    values[t] = softplus(L - s_ap);
  }
}

void explicit_backward(const ContrastIndex& ix, int64_t T, const float* zn, int64_t d, float tau,
                       const float* lse, const float* sap, const std::vector<float>& g, float* dzn) {
  const float inv_tau = 1.0f / tau;
  for (int64_t t = 0; t < T; ++t) {
    if (g[t] == 0.0f || lse[t] == kNegInf) continue;
    const int a = ix.t_anchor[t], p = ix.t_pos[t];
    const float* za = zn + int64_t(a) * d;
    const float q = sigmoid(lse[t] - sap[t]);  // e^{L - D}: the weight the negatives share
    const float c_ap = -g[t] * q * inv_tau;
    float* ga = dzn + int64_t(a) * d;
    float* gp = dzn + int64_t(p) * d;
    const float* zp = zn + int64_t(p) * d;
    for (int64_t k = 0; k < d; ++k) {
      ga[k] += c_ap * zp[k];
      gp[k] += c_ap * za[k];
    }
    for (int i = ix.neg_off[t]; i < ix.neg_off[t + 1]; ++i) {
      const int j = ix.neg_idx[i];
      const float* zj = zn + int64_t(j) * d;
      const float c = g[t] * q * std::exp(dot(za, zj, d) * inv_tau - lse[t]) * inv_tau;
      float* gj = dzn + int64_t(j) * d;
      for (int64_t k = 0; k < d; ++k) {
        ga[k] += c * zj[k];
        gj[k] += c * za[k];
      }
    }
  }
}

}  // namespace

namespace {
int g_block_rows_override = 0;
}  // namespace

void set_similarity_block_rows(int rows) { g_block_rows_override = std::max(0, rows); }

int similarity_block_rows(int64_t n) {
  if (g_block_rows_override > 0) return g_block_rows_override;
  // One block of S (rows x n floats) of at most 16 MiB, so it stays in the last-level cache
  // between the GEMM that writes it and the log-sum-exp that reads it. Blocks are large because
  // every block alternates between OpenBLAS's threads (GEMM) and OpenMP's (log-sum-exp), and
  // each hand-over costs; measured on 2 cores, 32-row blocks were several times slower.
  return static_cast<int>(std::clamp<int64_t>((int64_t(1) << 22) / std::max<int64_t>(n, 1), 64, 1024));
}

void cosine_similarity_forward(const Tensor& z, float tau, Tensor& zn, Tensor& norms, Tensor& s) {
  const int64_t n = z.dim(0), d = z.dim(1);
  normalize_rows(z.data(), n, d, zn.data(), norms.data());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, 1.0f / tau, zn.data(), d, zn.data(), d,
              0.0f, s.data(), n);
}

void cosine_similarity_backward(const Tensor& zn, const Tensor& norms, const Tensor& ds, float tau,
                                float* dz, float beta) {
  const int64_t n = zn.dim(0), d = zn.dim(1);
  // S = Zn Zn^T / tau  =>  dZn = (dS + dS^T) Zn / tau.
  std::vector<float> dzn(n * d);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f / tau, ds.data(), n, zn.data(), d,
              0.0f, dzn.data(), d);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, d, n, 1.0f / tau, ds.data(), n, zn.data(), d,
              1.0f, dzn.data(), d);
  normalize_backward(zn.data(), norms.data(), dzn.data(), n, d, dz, beta);
}

void ntxent_forward(const Tensor& z, const ContrastPlan& plan, float tau, Tensor& zn, Tensor& norms,
                    Tensor& lse, Tensor& sap, Tensor& values, Tensor& loss) {
  const ContrastIndex ix = plan.on(Device::CPU);
  const int64_t n = z.dim(0), d = z.dim(1), T = plan.num_terms();
  normalize_rows(z.data(), n, d, zn.data(), norms.data());
  const float* Zn = zn.data();
  float* L = lse.data();
  if (plan.rule() == NegativeRule::Explicit) {
    explicit_forward(ix, T, Zn, d, tau, L, sap.data(), values.data());
  } else {
    const std::vector<int> anchors = anchor_rows(ix, n);
    const int B = similarity_block_rows(n);
    std::vector<float> a(int64_t(B) * d), s(int64_t(B) * n);
    for (size_t b0 = 0; b0 < anchors.size(); b0 += B) {
      const int nb = static_cast<int>(std::min<size_t>(B, anchors.size() - b0));
      similarity_block(Zn, n, d, anchors.data() + b0, nb, tau, a.data(), s.data());
      const int u0 = ix.row_unit_off[anchors[b0]], u1 = ix.row_unit_off[anchors[b0 + nb - 1] + 1];
#pragma omp parallel for schedule(dynamic, 1) if (int64_t(u1 - u0) * n > 32768)
      for (int u = u0; u < u1; ++u) {
        // Units are sorted by anchor: find this unit's row within the block.
        const int i = static_cast<int>(std::lower_bound(anchors.begin() + b0, anchors.begin() + b0 + nb,
                                                        ix.u_anchor[u]) - (anchors.begin() + b0));
        L[u] = masked_lse(s.data() + int64_t(i) * n, n, ix.group, ix.u_key[u], ix.u_anchor[u]);
      }
    }
    const float inv_tau = 1.0f / tau;
    float* sp = sap.data();
    float* v = values.data();
#pragma omp parallel for schedule(static) if (T * d > 65536)
    for (int64_t t = 0; t < T; ++t) {
      sp[t] = dot(Zn + int64_t(ix.t_anchor[t]) * d, Zn + int64_t(ix.t_pos[t]) * d, d) * inv_tau;
      v[t] = term_value(plan.rule(), L[ix.t_unit[t]], sp[t]);
    }
  }
  double total = 0.0;
  for (int64_t t = 0; t < T; ++t) total += double(ix.t_weight[t]) * values.data()[t];
  loss.data()[0] = static_cast<float>(total);
}

void ntxent_backward(const ContrastPlan& plan, float tau, const Tensor& zn, const Tensor& norms,
                     const Tensor& lse, const Tensor& sap, const float* dvalues, const float* dloss,
                     float* dz, float beta) {
  const ContrastIndex ix = plan.on(Device::CPU);
  const int64_t n = zn.dim(0), d = zn.dim(1), T = plan.num_terms(), U = plan.num_units();
  const float* Zn = zn.data();
  const float* L = lse.data();
  const float* S_ap = sap.data();
  const std::vector<float> g = term_grads(ix, T, dvalues, dloss);
  std::vector<float> dzn(n * d, 0.0f);
  if (plan.rule() == NegativeRule::Explicit) {
    explicit_backward(ix, T, Zn, d, tau, L, S_ap, g, dzn.data());
  } else {
    // d value_t / d s_ap = -q_t, d value_t / d s_aj = q_t e^{s_aj - L_u} (j in N_u), with
    // q_t = sigmoid(L_u - s_ap) (other-groups) or 1 (all-others, where L_u holds s_ap itself).
    // Per unit the negatives' weights add up to c_u = sum_t g_t q_t.
    std::vector<float> dsap(T), c(U, 0.0f);
    for (int64_t t = 0; t < T; ++t) {
      const int u = ix.t_unit[t];
      float q = 1.0f;
      if (plan.rule() == NegativeRule::OtherGroups) q = L[u] == kNegInf ? 0.0f : sigmoid(L[u] - S_ap[t]);
      dsap[t] = -g[t] * q;
      c[u] += g[t] * q;
    }
    const std::vector<int> anchors = anchor_rows(ix, n);
    const int B = similarity_block_rows(n);
    std::vector<float> a(int64_t(B) * d), p(int64_t(B) * n), ga(int64_t(B) * d);
    for (size_t b0 = 0; b0 < anchors.size(); b0 += B) {
      const int nb = static_cast<int>(std::min<size_t>(B, anchors.size() - b0));
      similarity_block(Zn, n, d, anchors.data() + b0, nb, tau, a.data(), p.data());
      // P[i, j] = dLoss / dS[anchor_i, j], built in place over S.
#pragma omp parallel for schedule(static) if (int64_t(nb) * n > 32768)
      for (int i = 0; i < nb; ++i) {
        const int r = anchors[b0 + i];
        float* row = p.data() + int64_t(i) * n;
        const int ub = ix.row_unit_off[r], ue = ix.row_unit_off[r + 1];
        if (ue - ub == 1) {  // the common case: one negative set per anchor
          const float cu = c[ub], Lu = L[ub];
          const int key = ix.u_key[ub];
          if (cu == 0.0f || Lu == kNegInf) {
            std::fill(row, row + n, 0.0f);
          } else if (ix.group) {
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) row[j] = ix.group[j] != key ? cu * fast_exp(row[j] - Lu) : 0.0f;
          } else {
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) row[j] = j != r ? cu * fast_exp(row[j] - Lu) : 0.0f;
          }
        } else {
          std::vector<float> acc(n, 0.0f);
          for (int u = ub; u < ue; ++u) {
            if (c[u] == 0.0f || L[u] == kNegInf) continue;
            const int key = ix.u_key[u];
            for (int64_t j = 0; j < n; ++j) {
              const bool neg = ix.group ? ix.group[j] != key : j != r;
              if (neg) acc[j] += c[u] * fast_exp(row[j] - L[u]);
            }
          }
          std::copy(acc.begin(), acc.end(), row);
        }
        for (int u = ub; u < ue; ++u)
          for (int k = ix.u_term_off[u]; k < ix.u_term_off[u + 1]; ++k) {
            const int t = ix.u_terms[k];
            row[ix.t_pos[t]] += dsap[t];
          }
      }
      // S_blk = A Zn^T / tau: dA = P Zn / tau (scattered to the anchor rows), dZn += P^T A / tau.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, d, n, 1.0f / tau, p.data(), n, Zn, d, 0.0f,
                  ga.data(), d);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, d, nb, 1.0f / tau, p.data(), n, a.data(), d,
                  1.0f, dzn.data(), d);
      for (int i = 0; i < nb; ++i) {
        float* dst = dzn.data() + int64_t(anchors[b0 + i]) * d;
        const float* src = ga.data() + int64_t(i) * d;
        for (int64_t k = 0; k < d; ++k) dst[k] += src[k];
      }
    }
  }
  normalize_backward(Zn, norms.data(), dzn.data(), n, d, dz, beta);
}

void extract_regions_forward(const Tensor& f, const RegionList& pos, int k, Tensor& y) {
  const int64_t N = f.dim(0), W = f.dim(2), C = f.dim(3), H = f.dim(1);
  const int64_t row = int64_t(k) * C;  // one patch row is contiguous in NHWC
  const float* src = f.data();
  float* dst = y.data();
#pragma omp parallel for schedule(static) if (N * pos.n * k * row > 65536)
  for (int64_t n = 0; n < N; ++n)
    for (int q = 0; q < pos.n; ++q)
      for (int dr = 0; dr < k; ++dr)
        std::memcpy(dst + ((n * pos.n + q) * k + dr) * row,
                    src + ((n * H + pos.r[q] + dr) * W + pos.s[q]) * C, row * sizeof(float));
}

void extract_regions_backward(const Tensor& dy, const RegionList& pos, int k, const Shape& f_shape,
                              float* df, float beta) {
  const int64_t N = f_shape[0], H = f_shape[1], W = f_shape[2], C = f_shape[3];
  const int64_t row = int64_t(k) * C;
  const float* g = dy.data();
  // Images are independent (patches of one image may overlap): one image per thread.
#pragma omp parallel for schedule(static) if (N * H * W * C > 65536)
  for (int64_t n = 0; n < N; ++n) {
    float* img = df + n * H * W * C;
    if (beta == 0.0f) std::fill(img, img + H * W * C, 0.0f);
    for (int q = 0; q < pos.n; ++q)
      for (int dr = 0; dr < k; ++dr) {
        float* d = img + ((pos.r[q] + dr) * W + pos.s[q]) * C;
        const float* s = g + ((n * pos.n + q) * k + dr) * row;
#pragma omp simd
        for (int64_t i = 0; i < row; ++i) d[i] += s[i];
      }
  }
}

}  // namespace cs::cpu
