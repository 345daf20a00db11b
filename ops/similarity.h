#pragma once
// Cosine-similarity ops for the contrastive losses (docs/method.md §2.1, §3.6):
//  - cosine_similarity: S = Zn Zn^T / tau, Zn the rows of Z scaled to unit L2 norm;
//  - ntxent_loss / ntxent_terms: a fused, masked NT-Xent over a list of (anchor, positive) terms
//    whose negatives are given by an index RULE, never by a dense mask;
//  - extract_regions: k x k patches of a feature map, flattened (the local loss's regions).
//
// One NT-Xent term t with anchor a, positive p and negative set N_t:
//   value_t = -s_ap + log( exp(s_ap) + sum_{n in N_t} exp(s_an) ),  s_ij = <zn_i, zn_j> / tau
// computed with a max-shifted log-sum-exp (finite for tau = 0.005, where exp(1/tau) overflows).
// ntxent_loss returns sum_t weight_t * value_t; normalisers (1/48, mean over terms, ...) are
// folded into the weights, and repeated terms (reference-mode multiplicities) are simply listed
// twice.
//
// Negative rules (NegativeRule):
//  - OtherGroups: N_t = { j : group[j] != group[key_row_t] }. One int label per row (the
//    partition). key_row_t is normally the anchor; the reverse term (p, a) of docs/method.md §2.1 keeps the
//    negative set of a while p is the anchor, which is the term {anchor p, positive a, key a}.
//  - AllOthers:   N_t = { j : j != a, j != p } (standard NT-Xent, docs/method.md §2.5): the denominator is
//    the sum over all other rows, the positive included once.
//  - Explicit:    N_t = neg_index[neg_offset[t] .. neg_offset[t+1]) (the local loss: a few
//    regions per term). Repeated indices count repeatedly.
//
// How it runs (CPU and CUDA): for OtherGroups / AllOthers the terms that share (anchor, negative
// set) share one "unit" whose log-sum-exp L_u over N_u is computed once, row-block by row-block
// (CPU: GEMM per block of anchors; CUDA: one fused launch for small N, a tiled online
// log-sum-exp for large N); the N x N similarity matrix is never stored. A term is then
// softplus(L_u - s_ap) (OtherGroups) or L_u - s_ap (AllOthers, where L_u already holds s_ap).
// Explicit terms compute their few dot products directly.
#include <cstdint>
#include <vector>

#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

enum class NegativeRule { OtherGroups, AllOthers, Explicit };
const char* negative_rule_name(NegativeRule r);

struct ContrastTerm {
  int anchor = 0;
  int positive = 0;
  int key_row = 0;       // OtherGroups: the row whose group is excluded from the negatives
  float weight = 1.0f;
};

// The complete description of one contrastive loss over the rows of Z [rows, D].
struct ContrastSpec {
  int64_t rows = 0;
  NegativeRule rule = NegativeRule::OtherGroups;
  std::vector<ContrastTerm> terms;
  std::vector<int> group;       // OtherGroups: [rows]
  std::vector<int> neg_offset;  // Explicit: [terms + 1], CSR into neg_index
  std::vector<int> neg_index;

  // Throws std::invalid_argument naming the offending term / row.
  void validate() const;
  // The negative set of term t, materialised (for tests and pictures; O(rows)).
  std::vector<int> negatives(size_t t) const;
  double total_weight() const;
  // Terms with equal (anchor, positive, key_row) merged, weights summed (first-seen order).
  ContrastSpec merged() const;
};

// Integer index arrays used by the kernels, on the host or on the device.
struct ContrastIndex {
  const int* t_anchor = nullptr;    // [T]
  const int* t_pos = nullptr;       // [T]
  const int* t_unit = nullptr;      // [T] unit of each term (dense rules; t itself for Explicit)
  const float* t_weight = nullptr;  // [T]
  const int* u_anchor = nullptr;    // [U] units sorted by anchor
  const int* u_key = nullptr;       // [U] excluded group (OtherGroups) or -1 (AllOthers)
  const int* u_term_off = nullptr;  // [U+1] CSR unit -> terms
  const int* u_terms = nullptr;
  const int* row_unit_off = nullptr;  // [rows+1] CSR row -> its units (as anchor)
  const int* group = nullptr;       // [rows] (OtherGroups) or null
  const int* neg_off = nullptr;     // [T+1] (Explicit)
  const int* neg_idx = nullptr;
};

// A validated spec plus its index arrays, built once per batch layout and reused every step
// (no host-to-device copies in the steady state).
class ContrastPlan {
 public:
  ContrastPlan(ContrastSpec spec, Device device = Device::CPU);

  const ContrastSpec& spec() const { return spec_; }
  Device device() const { return device_; }
  NegativeRule rule() const { return spec_.rule; }
  int64_t rows() const { return spec_.rows; }
  int64_t num_terms() const { return static_cast<int64_t>(spec_.terms.size()); }
  // Units: distinct (anchor, negative set) pairs; for Explicit one unit per term.
  int64_t num_units() const { return num_units_; }
  int max_units_per_row() const { return max_units_per_row_; }
  int64_t max_negatives() const { return max_negatives_; }  // largest |N_t|

  ContrastIndex host() const { return index(ints_.data(), weights_.data()); }
  ContrastIndex on(Device d) const;  // throws if the plan was built for another device

 private:
  ContrastSpec spec_;
  Device device_;
  int64_t num_units_ = 0;
  int max_units_per_row_ = 0;
  int64_t max_negatives_ = 0;
  static constexpr int kArrays = 11;
  std::vector<int> ints_;       // all host int arrays, packed
  size_t off_[kArrays] = {};    // where each array starts in ints_
  bool present_[kArrays] = {};  // empty arrays give null pointers
  std::vector<float> weights_;
  Tensor device_buf_;           // ints_ then weights_, bit-copied (CUDA plans)
  ContrastIndex index(const int* base, const float* w) const;
};

// ---- differentiable ops

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

// ---- backend kernels (CPU in ops/cpu/similarity.cpp, CUDA in ops/cuda/similarity.cu)
// Backward kernels write gradients with BLAS-style beta (see ops/kernels.inc).
constexpr float kNormEps = 1e-12f;
constexpr int kMaxRegions = 64;
struct RegionList {  // passed by value to kernels
  int n = 0;
  int r[kMaxRegions];
  int s[kMaxRegions];
};

#define CS_SIMILARITY_KERNELS                                                                   \
  /* z [N,D] -> zn [N,D], norms [N], s [N,N] */                                                \
  void cosine_similarity_forward(const Tensor& z, float tau, Tensor& zn, Tensor& norms,         \
                                 Tensor& s);                                                    \
  void cosine_similarity_backward(const Tensor& zn, const Tensor& norms, const Tensor& ds,       \
                                  float tau, float* dz, float beta);                            \
  /* z [rows,D] -> zn, norms [rows], lse [U], sap [T] (s_ap), values [T], loss [1] */          \
  void ntxent_forward(const Tensor& z, const ContrastPlan& plan, float tau, Tensor& zn,         \
                      Tensor& norms, Tensor& lse, Tensor& sap, Tensor& values, Tensor& loss);   \
  /* dz = beta*dz + d/dz sum_t g_t value_t, g_t = dvalues[t] + weight_t*dloss[0] (either      \
     pointer may be null; both live on the plan's device) */                                   \
  void ntxent_backward(const ContrastPlan& plan, float tau, const Tensor& zn,                   \
                       const Tensor& norms, const Tensor& lse, const Tensor& sap,               \
                       const float* dvalues, const float* dloss, float* dz, float beta);        \
  /* f [N,H,W,C] -> y [N*P, k*k*C] */                                                          \
  void extract_regions_forward(const Tensor& f, const RegionList& pos, int k, Tensor& y);       \
  void extract_regions_backward(const Tensor& dy, const RegionList& pos, int k,                 \
                                const Shape& f_shape, float* df, float beta);

namespace cpu {
CS_SIMILARITY_KERNELS
// The CPU row-block size used for the similarity GEMM (exposed for tests and the benchmark);
// set_similarity_block_rows(r > 0) forces r rows per block (0: automatic).
int similarity_block_rows(int64_t n);
void set_similarity_block_rows(int rows);
}  // namespace cpu
#ifdef CONTRASEG_CUDA
namespace cuda {
CS_SIMILARITY_KERNELS
}  // namespace cuda
#endif
#undef CS_SIMILARITY_KERNELS

}  // namespace cs
