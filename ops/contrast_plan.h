#pragma once
// The term list of a contrastive loss (ContrastSpec) and its index arrays, built once per batch
// layout (ContrastPlan): what the NT-Xent kernels of ops/similarity.h read.
//
// Negative rules (NegativeRule):
//  - OtherGroups: N_t = { j : group[j] != group[key_row_t] }. One int label per row (the
//    partition). key_row_t is normally the anchor; the reverse term (p, a) of docs/method.md §2.1 keeps the
//    negative set of a while p is the anchor, which is the term {anchor p, positive a, key a}.
//  - AllOthers:   N_t = { j : j != a, j != p } (standard NT-Xent, docs/method.md §2.5): the denominator is
//    the sum over all other rows, the positive included once.
//  - Explicit:    N_t = neg_index[neg_offset[t] .. neg_offset[t+1]) (the local loss: a few
//    regions per term). Repeated indices count repeatedly.
#include <string>
#include <cstdint>
#include <vector>

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
  // Explicit: the inverse index, for a backward pass that gathers instead of scattering. Pair t
  // is term t's (anchor, positive), pair T + e its (anchor, neg_idx[e]); a pair's coefficient c
  // adds c * zn[other] to the gradient of each of its two rows. Row r's contributions are
  // row_pair[i], row_other[i] for i in [row_pair_off[r], row_pair_off[r+1]), by term, then
  // positive before negatives in list order (the order the CPU backward adds them).
  const int* row_pair_off = nullptr;  // [rows+1]
  const int* row_pair = nullptr;      // [2 * pairs]
  const int* row_other = nullptr;     // [2 * pairs]
};

// A validated spec plus its index arrays, built once per batch layout and reused every step
// (no host-to-device copies in the steady state).
class ContrastPlan {
 public:
  // op_name: what the op evaluating this plan is called on the tape and in profiles (the losses
  // name theirs by loss and mode, e.g. "ntxent_gd_paper", so a profile tells the losses apart).
  ContrastPlan(ContrastSpec spec, Device device = Device::CPU, std::string op_name = "ntxent_loss");
  const char* op_name() const { return op_name_.c_str(); }

  const ContrastSpec& spec() const { return spec_; }
  Device device() const { return device_; }
  NegativeRule rule() const { return spec_.rule; }
  int64_t rows() const { return spec_.rows; }
  int64_t num_terms() const { return static_cast<int64_t>(spec_.terms.size()); }
  // Units: distinct (anchor, negative set) pairs; for Explicit one unit per term.
  int64_t num_units() const { return num_units_; }
  int max_units_per_row() const { return max_units_per_row_; }
  int64_t max_negatives() const { return max_negatives_; }  // largest |N_t|
  // Explicit: the (anchor, other row) pairs of the terms, positives and listed negatives.
  int64_t num_pairs() const { return num_terms() + static_cast<int64_t>(spec_.neg_index.size()); }

  ContrastIndex host() const { return index(ints_.data(), weights_.data()); }
  ContrastIndex on(Device d) const;  // throws if the plan was built for another device

 private:
  ContrastSpec spec_;
  Device device_;
  std::string op_name_;
  int64_t num_units_ = 0;
  int max_units_per_row_ = 0;
  int64_t max_negatives_ = 0;
  static constexpr int kArrays = 14;
  std::vector<int> ints_;       // all host int arrays, packed
  size_t off_[kArrays] = {};    // where each array starts in ints_
  bool present_[kArrays] = {};  // empty arrays give null pointers
  std::vector<float> weights_;
  Tensor device_buf_;           // ints_ then weights_, bit-copied (CUDA plans)
  ContrastIndex index(const int* base, const float* w) const;
};

}  // namespace cs
