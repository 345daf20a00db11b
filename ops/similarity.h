#pragma once
// Cosine-similarity ops for the contrastive losses (docs/method.md §2.1, §3.6):
//  - cosine_similarity: S = Zn Zn^T / tau, Zn the rows of Z scaled to unit L2 norm;
//  - ntxent_loss / ntxent_terms: a fused, masked NT-Xent over the terms of a ContrastPlan
//    (ops/contrast_plan.h: the negatives of a term come from an index rule, never a dense mask);
//  - extract_regions: k x k patches of a feature map, flattened (the local loss's regions).
// Kernels: ops/cpu/similarity.cpp (OpenBLAS, OpenMP), ops/cuda/similarity.cu (cuBLAS).
//
// One NT-Xent term t with anchor a, positive p and negative set N_t:
//   value_t = -s_ap + log( exp(s_ap) + sum_{n in N_t} exp(s_an) ),  s_ij = <zn_i, zn_j> / tau
// computed with a max-shifted log-sum-exp (finite for tau = 0.005, where exp(1/tau) overflows).
// ntxent_loss returns sum_t weight_t * value_t; normalisers (1/48, mean over terms, ...) are
// folded into the weights, and repeated terms (reference-mode multiplicities) are simply listed
// twice.
//
// How it runs (CPU and CUDA): for OtherGroups / AllOthers the terms that share (anchor, negative
// set) share one "unit" whose log-sum-exp L_u over N_u is computed once, row-block by row-block
// (CPU: GEMM per block of anchors; CUDA: one fused launch for small N, a tiled online
// log-sum-exp for large N); the N x N similarity matrix is never stored. A term is then
// softplus(L_u - s_ap) (OtherGroups) or L_u - s_ap (AllOthers, where L_u already holds s_ap).
// Explicit terms compute their few dot products directly.
#include <vector>

#include "autograd/tape.h"
#include "autograd/tensor.h"
#include "ops/contrast_plan.h"

namespace cs {

// z [N,D] -> S [N,N], S_ij = <zn_i, zn_j> / tau, zn = z / max(||z||, 1e-12).
Tensor cosine_similarity(const Tensor& z, float tau);

// z [rows,D] (un-normalised) -> [1]: sum_t weight_t * value_t. The plan's device must match z's.
Tensor ntxent_loss(const Tensor& z, const ContrastPlan& plan, float tau);
// z [rows,D] -> [T]: the unweighted term values (differentiable too).
Tensor ntxent_terms(const Tensor& z, const ContrastPlan& plan, float tau);

// Patches of a feature map. f [N,H,W,C], positions (r, s) = top-left corners (row first),
// k = patch side -> y [N*P, k*k*C], row n*P + q holds the patch at positions[q] of image n,
// flattened row-major over (dr, ds, c): element (dr*k + ds)*C + c = f[n, r+dr, s+ds, c]
// (the order TensorFlow's reshape of an NHWC slice gives). Overlapping patches are allowed
// (their gradients add up).
struct RegionPos {
  int r = 0, s = 0;
};
Tensor extract_regions(const Tensor& f, const std::vector<RegionPos>& positions, int k);

// ---- kernels (conventions: ops/dispatch.h)
constexpr float kNormEps = 1e-12f;
constexpr int kMaxRegions = 64;
struct RegionList {  // passed by value to kernels
  int n = 0;
  int r[kMaxRegions];
  int s[kMaxRegions];
};

// z [N,D] -> zn [N,D], norms [N], s [N,N]; ds [N,N] -> dz [N,D].
// saved: zn, norms.
using CosineForward = void(const Tensor& z, float tau, Tensor& zn, Tensor& norms, Tensor& s);
using CosineBackward = void(const Tensor& zn, const Tensor& norms, const Tensor& ds, float tau, float* dz,
                            float beta);
namespace cpu { CosineForward cosine_similarity_forward; CosineBackward cosine_similarity_backward; }
namespace cuda { CosineForward cosine_similarity_forward; CosineBackward cosine_similarity_backward; }

// z [rows,D] -> zn [rows,D], norms [rows], lse [U], sap [T] (s_ap), values [T], loss [1].
// Backward: dz [rows,D] = beta*dz + d/dz sum_t g_t value_t, g_t = dvalues[t] + weight_t*dloss[0]
// (either pointer may be null; both on the plan's device).
// saved: zn, norms, lse, sap, and the plan (by pointer: it must outlive the backward pass).
using NtxentForward = void(const Tensor& z, const ContrastPlan& plan, float tau, Tensor& zn, Tensor& norms,
                           Tensor& lse, Tensor& sap, Tensor& values, Tensor& loss);
using NtxentBackward = void(const ContrastPlan& plan, float tau, const Tensor& zn, const Tensor& norms,
                            const Tensor& lse, const Tensor& sap, const float* dvalues, const float* dloss,
                            float* dz, float beta);
namespace cpu { NtxentForward ntxent_forward; NtxentBackward ntxent_backward; }
namespace cuda { NtxentForward ntxent_forward; NtxentBackward ntxent_backward; }

// f [N,H,W,C] -> y [N*P, k*k*C]; dy [N*P, k*k*C] -> df [N,H,W,C] (f_shape).
// saved: the positions, k and f's shape.
using ExtractRegionsForward = void(const Tensor& f, const RegionList& pos, int k, Tensor& y);
using ExtractRegionsBackward = void(const Tensor& dy, const RegionList& pos, int k, const Shape& f_shape,
                                    float* df, float beta);
namespace cpu { ExtractRegionsForward extract_regions_forward; ExtractRegionsBackward extract_regions_backward; }
namespace cuda { ExtractRegionsForward extract_regions_forward; ExtractRegionsBackward extract_regions_backward; }

namespace cpu {
// The CPU row-block size of the similarity GEMM (for tests and the benchmark);
// set_similarity_block_rows(r > 0) forces r rows per block (0: automatic).
int similarity_block_rows(int64_t n);
void set_similarity_block_rows(int rows);
}  // namespace cpu

}  // namespace cs
