// CUDA kernels of ops/similarity.h. Everything runs on cs::cuda_stream().
//
// Forward, dense rules (other-groups / all-others):
//  - rows <= kSmallRows: ONE launch (one block) normalises Z, builds S = Zn Zn^T / tau in shared
//    memory, takes each unit's masked log-sum-exp, the term values and the weighted sum;
//  - larger: row normalisation, then a tiled kernel: each block owns 64 units (anchor rows) and
//    sweeps 64-column tiles of Zn, a 64x64 tile of dot products in registers, keeping an online
//    (running max, running sum) log-sum-exp per unit, so S is never stored; then a term kernel
//    and a deterministic reduction.
// Backward, dense rules: panels of units; per panel S_panel = Q Zn^T (cuBLAS, Q = the panel's
// anchor rows), P = dLoss/dS in place, dQ = P Zn and dZn += P^T Q (cuBLAS); panels hold at most
// kPanelFloats floats, never N x N for large N.
// Explicit rule: one warp per term (few negatives each); one fused launch when it fits in one
// block. Its backward gathers: one warp per term writes the coefficient of each of its (anchor,
// other row) pairs, then one warp per row of dzn sums its pairs' contributions in the order of
// the plan's inverse index (ContrastIndex::row_pair). No atomics: every kernel here reduces in a
// fixed order, so a run is bit-reproducible on one GPU model.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "ops/cuda/common.cuh"
#include "ops/similarity.h"

namespace cs::cuda {
namespace {

constexpr int kSmallRows = 64;           // one-block fused forward up to this many rows
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kFusedExplicitRows = 4096;  // explicit rule: fused one-block launch up to here
constexpr int kFusedExplicitTerms = 2048;
constexpr int64_t kPanelFloats = int64_t(1) << 24;  // 64 MiB of S per backward panel
constexpr int kTU = 64, kTJ = 64, kTK = 32;  // tiled forward: units x columns x depth

__device__ __forceinline__ float softplus_d(float x) {
  if (x == -INFINITY) return 0.0f;
  return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}
__device__ __forceinline__ float sigmoid_d(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

// ---- pieces shared by the fused (one block) and the multi-block kernels. `w` is this warp's
// index among `nw` warps taking part; `lane` its lane.

// zn[i] = z[i] / max(||z[i]||, eps), norms[i] = ||z[i]||.
__device__ void normalize_rows_dev(const float* z, int n, int d, float* zn, float* norms, int w, int nw, int lane) {
  for (int i = w; i < n; i += nw) {
    const float* x = z + int64_t(i) * d;
    float s = 0.0f;
    for (int k = lane; k < d; k += 32) s += x[k] * x[k];
    s = warp_allsum(s);
    const float nrm = sqrtf(s);
    const float inv = 1.0f / fmaxf(nrm, kNormEps);
    float* y = zn + int64_t(i) * d;
    for (int k = lane; k < d; k += 32) y[k] = x[k] * inv;
    if (lane == 0) norms[i] = nrm;
  }
}

__device__ __forceinline__ float warp_dot(const float* a, const float* b, int d, int lane) {
  float s = 0.0f;
  for (int k = lane; k < d; k += 32) s += a[k] * b[k];
  return warp_allsum(s);
}

// One explicit term per warp: s_ap, the log-sum-exp over its listed negatives, the value.
__device__ void explicit_terms_dev(ContrastIndex ix, int T, const float* zn, int d, float inv_tau, float* lse,
                                   float* sap, float* values, int w, int nw, int lane) {
  for (int t = w; t < T; t += nw) {
    const float* za = zn + int64_t(ix.t_anchor[t]) * d;
    const float s_ap = warp_dot(za, zn + int64_t(ix.t_pos[t]) * d, d, lane) * inv_tau;
    float m = -INFINITY, l = 0.0f;
    for (int k = ix.neg_off[t]; k < ix.neg_off[t + 1]; ++k) {
      const float s = warp_dot(za, zn + int64_t(ix.neg_idx[k]) * d, d, lane) * inv_tau;
      const float nm = fmaxf(m, s);
      l = l * expf(m - nm) + expf(s - nm);  // m = -inf the first time: exp(-inf) = 0
      m = nm;
    }
    if (lane == 0) {
      const float L = m == -INFINITY ? -INFINITY : m + logf(l);
      lse[t] = L;
      sap[t] = s_ap;
      values[t] = softplus_d(L - s_ap);
    }
  }
}

// loss[0] = sum_t w_t values_t by one block, in a fixed order (deterministic).
__device__ void weighted_sum_dev(const float* w, const float* values, int T, float* loss) {
  __shared__ double part[kThreads];
  double s = 0.0;
  for (int t = threadIdx.x; t < T; t += blockDim.x) s += double(w[t]) * values[t];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o >>= 1) {
    if (threadIdx.x < o) part[threadIdx.x] += part[threadIdx.x + o];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = static_cast<float>(part[0]);
}

// ---- kernels

__global__ void normalize_rows_kernel(const float* z, int n, int d, float* zn, float* norms) {
  const int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  normalize_rows_dev(z, n, d, zn, norms, w, gridDim.x * blockDim.x / 32, threadIdx.x % 32);
}

__global__ void weighted_sum_kernel(const float* w, const float* values, int T, float* loss) {
  weighted_sum_dev(w, values, T, loss);
}

// The one-launch forward for dense rules and n <= kSmallRows (the paper's 48 x 128).
__global__ void dense_small_forward_kernel(const float* z, int n, int d, float inv_tau, ContrastIndex ix, int U,
                                           int T, bool all_others, float* zn, float* norms, float* lse, float* sap,
                                           float* values, float* loss) {
  __shared__ float S[kSmallRows * kSmallRows];
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  normalize_rows_dev(z, n, d, zn, norms, w, kWarps, lane);
  __syncthreads();  // zn (global) written by this block is visible to the whole block
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) {
    const int i = e / n, j = e % n;
    const float* a = zn + int64_t(i) * d;
    const float* b = zn + int64_t(j) * d;
    float s = 0.0f;
    for (int k = 0; k < d; ++k) s += a[k] * b[k];
    S[e] = s * inv_tau;
  }
  __syncthreads();
  for (int u = w; u < U; u += kWarps) {  // one warp per unit: masked log-sum-exp of its row
    const int a = ix.u_anchor[u], key = ix.u_key[u];
    float m = -INFINITY;
    for (int j = lane; j < n; j += 32) {
      const bool neg = all_others ? j != a : ix.group[j] != key;
      if (neg) m = fmaxf(m, S[a * n + j]);
    }
    m = warp_allmax(m);
    float l = 0.0f;
    if (m != -INFINITY)
      for (int j = lane; j < n; j += 32) {
        const bool neg = all_others ? j != a : ix.group[j] != key;
        if (neg) l += expf(S[a * n + j] - m);
      }
    l = warp_allsum(l);
    if (lane == 0) lse[u] = m == -INFINITY ? -INFINITY : m + logf(l);
  }
  __syncthreads();
  for (int t = threadIdx.x; t < T; t += blockDim.x) {
    const float s = S[ix.t_anchor[t] * n + ix.t_pos[t]];
    const float L = lse[ix.t_unit[t]];
    sap[t] = s;
    values[t] = all_others ? L - s : softplus_d(L - s);
  }
  __syncthreads();
  weighted_sum_dev(ix.t_weight, values, T, loss);
}

// Tiled online log-sum-exp per unit over all columns (never stores S). 256 threads as 16 x 16;
// thread (ty, tx) owns unit rows ty*4 + r and columns tx + 16*c of each 64 x 64 tile. The 16
// threads of one row are 16 consecutive lanes, so row reductions are xor-shuffles within them.
__global__ void __launch_bounds__(kThreads) dense_lse_tiled_kernel(const float* zn, int n, int d, float inv_tau,
                                                                    ContrastIndex ix, int U, bool all_others,
                                                                    float* lse) {
  __shared__ float As[kTK][kTU + 1];
  __shared__ float Bs[kTK][kTJ + 1];
  __shared__ int anchor_s[kTU], key_s[kTU];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int u0 = blockIdx.x * kTU;
  for (int i = threadIdx.x; i < kTU; i += blockDim.x) {
    const int u = u0 + i;
    anchor_s[i] = u < U ? ix.u_anchor[u] : -1;
    key_s[i] = u < U ? ix.u_key[u] : 0;
  }
  __syncthreads();
  float m[4], l[4];
  for (int r = 0; r < 4; ++r) m[r] = -INFINITY, l[r] = 0.0f;

  for (int j0 = 0; j0 < n; j0 += kTJ) {
    float acc[4][4] = {};
    for (int k0 = 0; k0 < d; k0 += kTK) {
      for (int e = threadIdx.x; e < kTU * kTK; e += blockDim.x) {
        const int i = e / kTK, k = e % kTK;
        const int a = anchor_s[i];
        As[k][i] = (a >= 0 && k0 + k < d) ? zn[int64_t(a) * d + k0 + k] : 0.0f;
        const int j = j0 + i;  // kTJ == kTU: the same index pattern loads the column tile
        Bs[k][i] = (j < n && k0 + k < d) ? zn[int64_t(j) * d + k0 + k] : 0.0f;
      }
      __syncthreads();
#pragma unroll 8
      for (int k = 0; k < kTK; ++k) {
        float av[4], bv[4];
        for (int r = 0; r < 4; ++r) av[r] = As[k][ty * 4 + r];
        for (int c = 0; c < 4; ++c) bv[c] = Bs[k][tx + 16 * c];
        for (int r = 0; r < 4; ++r)
          for (int c = 0; c < 4; ++c) acc[r][c] += av[r] * bv[c];
      }
      __syncthreads();
    }
    for (int r = 0; r < 4; ++r) {
      const int i = ty * 4 + r, a = anchor_s[i], key = key_s[i];
      float s[4];
      float tmax = -INFINITY;
      for (int c = 0; c < 4; ++c) {
        const int j = j0 + tx + 16 * c;
        const bool neg = a >= 0 && j < n && (all_others ? j != a : ix.group[j] != key);
        s[c] = neg ? acc[r][c] * inv_tau : -INFINITY;
        tmax = fmaxf(tmax, s[c]);
      }
      for (int o = 8; o > 0; o >>= 1) tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, o));
      const float nm = fmaxf(m[r], tmax);
      float sum = 0.0f;
      if (nm != -INFINITY)
        for (int c = 0; c < 4; ++c) sum += s[c] == -INFINITY ? 0.0f : expf(s[c] - nm);
      for (int o = 8; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      if (nm != -INFINITY) {
        l[r] = l[r] * expf(m[r] - nm) + sum;
        m[r] = nm;
      }
    }
  }
  if (tx == 0)
    for (int r = 0; r < 4; ++r) {
      const int u = u0 + ty * 4 + r;
      if (u < U) lse[u] = m[r] == -INFINITY ? -INFINITY : m[r] + logf(l[r]);
    }
}

// One warp per term: s_ap and the value from its unit's log-sum-exp.
__global__ void dense_terms_kernel(const float* zn, int d, float inv_tau, ContrastIndex ix, int T, bool all_others,
                                   const float* lse, float* sap, float* values) {
  const int lane = threadIdx.x % 32;
  const int nw = gridDim.x * blockDim.x / 32;
  for (int t = (blockIdx.x * blockDim.x + threadIdx.x) / 32; t < T; t += nw) {
    const float s = warp_dot(zn + int64_t(ix.t_anchor[t]) * d, zn + int64_t(ix.t_pos[t]) * d, d, lane) * inv_tau;
    if (lane == 0) {
      const float L = lse[ix.t_unit[t]];
      sap[t] = s;
      values[t] = all_others ? L - s : softplus_d(L - s);
    }
  }
}

__global__ void explicit_fused_kernel(const float* z, int n, int d, float inv_tau, ContrastIndex ix, int T, float* zn,
                                      float* norms, float* lse, float* sap, float* values, float* loss) {
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  normalize_rows_dev(z, n, d, zn, norms, w, kWarps, lane);
  __syncthreads();
  explicit_terms_dev(ix, T, zn, d, inv_tau, lse, sap, values, w, kWarps, lane);
  __syncthreads();
  weighted_sum_dev(ix.t_weight, values, T, loss);
}

__global__ void explicit_terms_kernel(const float* zn, int d, float inv_tau, ContrastIndex ix, int T, float* lse,
                                      float* sap, float* values) {
  const int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  explicit_terms_dev(ix, T, zn, d, inv_tau, lse, sap, values, w, gridDim.x * blockDim.x / 32, threadIdx.x % 32);
}

__device__ __forceinline__ float term_grad(ContrastIndex ix, int t, const float* dvalues, const float* dloss) {
  float g = 0.0f;
  if (dvalues) g += dvalues[t];
  if (dloss) g += ix.t_weight[t] * dloss[0];
  return g;
}

// Explicit backward, step 1, one warp per term: coef[t] = -g q / tau for its (anchor, positive),
// coef[T + e] = g q e^{s_aj - L} / tau for (anchor, neg_idx[e]); 0 for a term without gradient.
__global__ void explicit_coef_kernel(const float* zn, int d, float inv_tau, ContrastIndex ix, int T, const float* lse,
                                     const float* sap, const float* dvalues, const float* dloss, float* coef) {
  const int lane = threadIdx.x % 32;
  const int nw = gridDim.x * blockDim.x / 32;
  for (int t = (blockIdx.x * blockDim.x + threadIdx.x) / 32; t < T; t += nw) {
    const float g = term_grad(ix, t, dvalues, dloss);
    const float L = lse[t];
    const bool live = g != 0.0f && L != -INFINITY;  // the same for the whole warp
    const float q = live ? sigmoid_d(L - sap[t]) : 0.0f;
    if (lane == 0) coef[t] = live ? -g * q * inv_tau : 0.0f;
    const float* za = zn + int64_t(ix.t_anchor[t]) * d;
    for (int e = ix.neg_off[t]; e < ix.neg_off[t + 1]; ++e) {
      const float c =
          live ? g * q * expf(warp_dot(za, zn + int64_t(ix.neg_idx[e]) * d, d, lane) * inv_tau - L) * inv_tau : 0.0f;
      if (lane == 0) coef[T + e] = c;
    }
  }
}

// Explicit backward, step 2, one warp per row r (lanes over the columns): dzn[r] = the sum of
// coef[pair] * zn[other] over the row's pairs, in the inverse index's order. Writes every row.
__global__ void explicit_gather_kernel(const float* zn, int n, int d, ContrastIndex ix, const float* coef,
                                       float* dzn) {
  const int lane = threadIdx.x % 32;
  const int nw = gridDim.x * blockDim.x / 32;
  for (int r = (blockIdx.x * blockDim.x + threadIdx.x) / 32; r < n; r += nw) {
    const int b = ix.row_pair_off[r], e = ix.row_pair_off[r + 1];
    for (int k = lane; k < d; k += 32) {
      float s = 0.0f;
      for (int i = b; i < e; ++i) s += coef[ix.row_pair[i]] * zn[int64_t(ix.row_other[i]) * d + k];
      dzn[int64_t(r) * d + k] = s;
    }
  }
}

// Dense backward, per unit: c_u = sum_t g_t q_t and dsap_t = -g_t q_t (q_t = 1 for all-others).
__global__ void unit_coef_kernel(ContrastIndex ix, int U, bool all_others, const float* lse, const float* sap,
                                 const float* dvalues, const float* dloss, float* c, float* dsap) {
  CS_GRID_STRIDE(u, U) {
    const float L = lse[u];
    float cu = 0.0f;
    for (int e = ix.u_term_off[u]; e < ix.u_term_off[u + 1]; ++e) {
      const int t = ix.u_terms[e];
      const float g = term_grad(ix, t, dvalues, dloss);
      const float q = all_others ? 1.0f : (L == -INFINITY ? 0.0f : sigmoid_d(L - sap[t]));
      dsap[t] = -g * q;
      cu += g * q;
    }
    c[u] = cu;
  }
}

// q [R, d] = zn rows of the panel's anchors.
__global__ void gather_anchor_rows_kernel(const float* zn, int d, const int* u_anchor, int u0, int R, float* q) {
  CS_GRID_STRIDE(e, int64_t(R) * d) {
    const int64_t i = e / d, k = e % d;
    q[e] = zn[int64_t(u_anchor[u0 + i]) * d + k];
  }
}

// In place over S_panel [R, n]: P[i, j] = c_u exp(S - L_u) on the unit's negatives, else 0.
__global__ void panel_grad_kernel(float* s, int n, ContrastIndex ix, int u0, int R, bool all_others, const float* c,
                                  const float* lse) {
  CS_GRID_STRIDE(e, int64_t(R) * n) {
    const int i = static_cast<int>(e / n), j = static_cast<int>(e % n);
    const int u = u0 + i;
    const float cu = c[u], L = lse[u];
    const bool neg = all_others ? j != ix.u_anchor[u] : ix.group[j] != ix.u_key[u];
    s[e] = (neg && cu != 0.0f && L != -INFINITY) ? cu * expf(s[e] - L) : 0.0f;
  }
}

// P[i, p_t] += dsap_t for the terms of each unit (a unit's terms run in order: no race).
__global__ void panel_positive_kernel(float* p, int n, ContrastIndex ix, int u0, int R, const float* dsap) {
  CS_GRID_STRIDE(i, R) {
    const int u = u0 + static_cast<int>(i);
    for (int e = ix.u_term_off[u]; e < ix.u_term_off[u + 1]; ++e) {
      const int t = ix.u_terms[e];
      p[i * n + ix.t_pos[t]] += dsap[t];
    }
  }
}

// dzn[anchor] += sum of dq over the panel's units of that anchor (units are sorted by anchor;
// the first unit of each run adds the run, so no two threads write one row).
__global__ void scatter_anchor_rows_kernel(const float* dq, int d, const int* u_anchor, int u0, int R, float* dzn) {
  CS_GRID_STRIDE(e, int64_t(R) * d) {
    const int i = static_cast<int>(e / d), k = static_cast<int>(e % d);
    const int a = u_anchor[u0 + i];
    if (i > 0 && u_anchor[u0 + i - 1] == a) continue;
    float s = 0.0f;
    for (int r = i; r < R && u_anchor[u0 + r] == a; ++r) s += dq[int64_t(r) * d + k];
    dzn[int64_t(a) * d + k] += s;
  }
}

// dz = beta*dz + (dzn - zn <zn, dzn>) / ||z|| per row (dzn / eps where the norm was clamped).
__global__ void normalize_backward_kernel(const float* zn, const float* norms, const float* dzn, int n, int d,
                                          float* dz, float beta) {
  const int lane = threadIdx.x % 32;
  const int nw = gridDim.x * blockDim.x / 32;
  for (int i = (blockIdx.x * blockDim.x + threadIdx.x) / 32; i < n; i += nw) {
    const float* y = zn + int64_t(i) * d;
    const float* g = dzn + int64_t(i) * d;
    const bool clamped = norms[i] < kNormEps;
    const float proj = clamped ? 0.0f : warp_dot(y, g, d, lane);
    const float inv = 1.0f / fmaxf(norms[i], kNormEps);
    for (int k = lane; k < d; k += 32) store_beta(dz + int64_t(i) * d + k, (g[k] - y[k] * proj) * inv, beta);
  }
}

int warp_grid(int64_t items) { return grid_for(items * 32, kThreads); }

void launch_normalize(const Tensor& z, Tensor& zn, Tensor& norms) {
  const int n = static_cast<int>(z.dim(0)), d = static_cast<int>(z.dim(1));
  normalize_rows_kernel<<<warp_grid(n), kThreads, 0, cuda_stream()>>>(z.data(), n, d, zn.data(), norms.data());
  check_launch("normalize_rows_kernel");
}

void launch_normalize_backward(const Tensor& zn, const Tensor& norms, const float* dzn, float* dz, float beta) {
  const int n = static_cast<int>(zn.dim(0)), d = static_cast<int>(zn.dim(1));
  normalize_backward_kernel<<<warp_grid(n), kThreads, 0, cuda_stream()>>>(zn.data(), norms.data(), dzn, n, d, dz, beta);
  check_launch("normalize_backward_kernel");
}

// Row-major C [m, n] = alpha * A [m, k] B^T (B [n, k]) + beta * C, with cuBLAS (column-major).
void gemm_abt(int m, int n, int k, float alpha, const float* a, const float* b, float beta, float* c) {
  cublas_check(cublasSgemm(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, b, k, a, k, &beta, c, n),
               "similarity: cublasSgemm (A B^T)");
}
// Row-major C [m, n] = alpha * A [m, k] B (B [k, n]) + beta * C.
void gemm_ab(int m, int n, int k, float alpha, const float* a, const float* b, float beta, float* c) {
  cublas_check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, b, n, a, k, &beta, c, n),
               "similarity: cublasSgemm (A B)");
}
// Row-major C [m, n] = alpha * A^T B (A [k, m], B [k, n]) + beta * C.
void gemm_atb(int m, int n, int k, float alpha, const float* a, const float* b, float beta, float* c) {
  cublas_check(cublasSgemm(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_T, n, m, k, &alpha, b, n, a, m, &beta, c, n),
               "similarity: cublasSgemm (A^T B)");
}

}  // namespace

void cosine_similarity_forward(const Tensor& z, float tau, Tensor& zn, Tensor& norms, Tensor& s) {
  const int n = static_cast<int>(z.dim(0)), d = static_cast<int>(z.dim(1));
  launch_normalize(z, zn, norms);
  gemm_abt(n, n, d, 1.0f / tau, zn.data(), zn.data(), 0.0f, s.data());
}

void cosine_similarity_backward(const Tensor& zn, const Tensor& norms, const Tensor& ds, float tau, float* dz,
                                float beta) {
  const int n = static_cast<int>(zn.dim(0)), d = static_cast<int>(zn.dim(1));
  Tensor dzn = Tensor::empty({n, d}, Device::CUDA);
  gemm_ab(n, d, n, 1.0f / tau, ds.data(), zn.data(), 0.0f, dzn.data());   // dS Zn
  gemm_atb(n, d, n, 1.0f / tau, ds.data(), zn.data(), 1.0f, dzn.data());  // + dS^T Zn
  launch_normalize_backward(zn, norms, dzn.data(), dz, beta);
}

void ntxent_forward(const Tensor& z, const ContrastPlan& plan, float tau, Tensor& zn, Tensor& norms, Tensor& lse,
                    Tensor& sap, Tensor& values, Tensor& loss) {
  const ContrastIndex ix = plan.on(Device::CUDA);
  const int n = static_cast<int>(z.dim(0)), d = static_cast<int>(z.dim(1));
  const int T = static_cast<int>(plan.num_terms()), U = static_cast<int>(plan.num_units());
  const float inv_tau = 1.0f / tau;
  cudaStream_t st = cuda_stream();
  if (plan.rule() == NegativeRule::Explicit) {
    if (n <= kFusedExplicitRows && T <= kFusedExplicitTerms) {
      explicit_fused_kernel<<<1, kThreads, 0, st>>>(z.data(), n, d, inv_tau, ix, T, zn.data(), norms.data(),
                                                    lse.data(), sap.data(), values.data(), loss.data());
      check_launch("explicit_fused_kernel");
      return;
    }
    launch_normalize(z, zn, norms);
    explicit_terms_kernel<<<warp_grid(T), kThreads, 0, st>>>(zn.data(), d, inv_tau, ix, T, lse.data(), sap.data(),
                                                             values.data());
    check_launch("explicit_terms_kernel");
  } else {
    const bool all_others = plan.rule() == NegativeRule::AllOthers;
    if (n <= kSmallRows) {
      dense_small_forward_kernel<<<1, kThreads, 0, st>>>(z.data(), n, d, inv_tau, ix, U, T, all_others, zn.data(),
                                                         norms.data(), lse.data(), sap.data(), values.data(),
                                                         loss.data());
      check_launch("dense_small_forward_kernel");
      return;
    }
    launch_normalize(z, zn, norms);
    dense_lse_tiled_kernel<<<(U + kTU - 1) / kTU, kThreads, 0, st>>>(zn.data(), n, d, inv_tau, ix, U, all_others,
                                                                     lse.data());
    check_launch("dense_lse_tiled_kernel");
    dense_terms_kernel<<<warp_grid(T), kThreads, 0, st>>>(zn.data(), d, inv_tau, ix, T, all_others, lse.data(),
                                                          sap.data(), values.data());
    check_launch("dense_terms_kernel");
  }
  weighted_sum_kernel<<<1, kThreads, 0, st>>>(ix.t_weight, values.data(), T, loss.data());
  check_launch("weighted_sum_kernel");
}

void ntxent_backward(const ContrastPlan& plan, float tau, const Tensor& zn, const Tensor& norms, const Tensor& lse,
                     const Tensor& sap, const float* dvalues, const float* dloss, float* dz, float beta) {
  const ContrastIndex ix = plan.on(Device::CUDA);
  const int n = static_cast<int>(zn.dim(0)), d = static_cast<int>(zn.dim(1));
  const int T = static_cast<int>(plan.num_terms()), U = static_cast<int>(plan.num_units());
  const float inv_tau = 1.0f / tau;
  cudaStream_t st = cuda_stream();
  const bool expl = plan.rule() == NegativeRule::Explicit;
  Tensor dzn = expl ? Tensor::empty({n, d}, Device::CUDA) : Tensor::zeros({n, d}, Device::CUDA);
  if (expl) {
    Tensor coef = Tensor::empty({plan.num_pairs()}, Device::CUDA);
    explicit_coef_kernel<<<warp_grid(T), kThreads, 0, st>>>(zn.data(), d, inv_tau, ix, T, lse.data(), sap.data(),
                                                            dvalues, dloss, coef.data());
    check_launch("explicit_coef_kernel");
    explicit_gather_kernel<<<warp_grid(n), kThreads, 0, st>>>(zn.data(), n, d, ix, coef.data(), dzn.data());
    check_launch("explicit_gather_kernel");
  } else {
    const bool all_others = plan.rule() == NegativeRule::AllOthers;
    Tensor c = Tensor::empty({U}, Device::CUDA);
    Tensor dsap = Tensor::empty({T}, Device::CUDA);
    unit_coef_kernel<<<grid_for(U), kBlock, 0, st>>>(ix, U, all_others, lse.data(), sap.data(), dvalues, dloss,
                                                     c.data(), dsap.data());
    check_launch("unit_coef_kernel");
    const int R = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(U, kPanelFloats / n)));
    Tensor p = Tensor::empty({R, n}, Device::CUDA);
    Tensor q = Tensor::empty({R, d}, Device::CUDA);
    Tensor dq = Tensor::empty({R, d}, Device::CUDA);
    for (int u0 = 0; u0 < U; u0 += R) {
      const int r = std::min(R, U - u0);
      gather_anchor_rows_kernel<<<grid_for(int64_t(r) * d), kBlock, 0, st>>>(zn.data(), d, ix.u_anchor, u0, r,
                                                                               q.data());
      check_launch("gather_anchor_rows_kernel");
      gemm_abt(r, n, d, inv_tau, q.data(), zn.data(), 0.0f, p.data());  // S_panel = Q Zn^T / tau
      panel_grad_kernel<<<grid_for(int64_t(r) * n), kBlock, 0, st>>>(p.data(), n, ix, u0, r, all_others, c.data(),
                                                                       lse.data());
      check_launch("panel_grad_kernel");
      panel_positive_kernel<<<grid_for(r), kBlock, 0, st>>>(p.data(), n, ix, u0, r, dsap.data());
      check_launch("panel_positive_kernel");
      gemm_ab(r, d, n, inv_tau, p.data(), zn.data(), 0.0f, dq.data());     // dQ = P Zn / tau
      scatter_anchor_rows_kernel<<<grid_for(int64_t(r) * d), kBlock, 0, st>>>(dq.data(), d, ix.u_anchor, u0, r,
                                                                                dzn.data());
      check_launch("scatter_anchor_rows_kernel");
      gemm_atb(n, d, r, inv_tau, p.data(), q.data(), 1.0f, dzn.data());    // dZn += P^T Q / tau
    }
  }
  launch_normalize_backward(zn, norms, dzn.data(), dz, beta);
}

namespace {
__global__ void extract_regions_kernel(const float* f, int64_t N, int H, int W, int C, RegionList pos, int k,
                                       float* y) {
  const int64_t per_region = int64_t(k) * k * C;
  CS_GRID_STRIDE(e, N * pos.n * per_region) {
    const int64_t row = e / per_region, within = e % per_region;
    const int64_t n = row / pos.n;
    const int q = static_cast<int>(row % pos.n);
    const int c = static_cast<int>(within % C), rs = static_cast<int>(within / C);
    const int dr = rs / k, ds = rs % k;
    y[e] = f[((n * H + pos.r[q] + dr) * W + pos.s[q] + ds) * C + c];
  }
}

// Gather form (deterministic, handles overlapping patches): each df element sums the patch
// elements that cover it.
__global__ void extract_regions_backward_kernel(const float* dy, int64_t N, int H, int W, int C, RegionList pos, int k,
                                                float* df, float beta) {
  const int64_t per_region = int64_t(k) * k * C;
  CS_GRID_STRIDE(e, N * H * W * C) {
    const int c = static_cast<int>(e % C);
    const int64_t pix = e / C;
    const int x = static_cast<int>(pix % W), yy = static_cast<int>((pix / W) % H);
    const int64_t n = pix / (int64_t(W) * H);
    float s = 0.0f;
    for (int q = 0; q < pos.n; ++q) {
      const int dr = yy - pos.r[q], ds = x - pos.s[q];
      if (dr >= 0 && dr < k && ds >= 0 && ds < k) s += dy[(n * pos.n + q) * per_region + (dr * k + ds) * C + c];
    }
    store_beta(df + e, s, beta);
  }
}
}  // namespace

void extract_regions_forward(const Tensor& f, const RegionList& pos, int k, Tensor& y) {
  extract_regions_kernel<<<grid_for(y.numel()), kBlock, 0, cuda_stream()>>>(
      f.data(), f.dim(0), static_cast<int>(f.dim(1)), static_cast<int>(f.dim(2)), static_cast<int>(f.dim(3)), pos, k,
      y.data());
  check_launch("extract_regions_kernel");
}

void extract_regions_backward(const Tensor& dy, const RegionList& pos, int k, const Shape& f_shape, float* df,
                              float beta) {
  const int64_t total = shape_numel(f_shape);
  extract_regions_backward_kernel<<<grid_for(total), kBlock, 0, cuda_stream()>>>(
      dy.data(), f_shape[0], static_cast<int>(f_shape[1]), static_cast<int>(f_shape[2]), static_cast<int>(f_shape[3]),
      pos, k, df, beta);
  check_launch("extract_regions_backward_kernel");
}

}  // namespace cs::cuda
