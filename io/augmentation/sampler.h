#pragma once
// Drawing slices from volumes (docs/method.md §2.2, §2.5, §3.2, §4.3): partitions and the two
// sampling rules every training batch is drawn with, by partition or uniformly.
//
// Volumes are given by their slice counts Q_v (index v into that list). Everything is
// deterministic for a given Rng state.
#include <cstdint>
#include <utility>
#include <vector>

#include "io/rng.h"

namespace cs {

// One drawn slice. partition is -1 when the draw has no partition structure.
struct SliceRef {
  int volume = -1;
  int slice = -1;
  int partition = -1;
};

// Half-open range [k*floor(Q/S), (k+1)*floor(Q/S)) of partition k (docs/method.md §2.2). The last Q mod S
// slices belong to no partition. Throws if Q < S (an empty partition) or k is out of range.
std::pair<int, int> partition_range(int num_slices, int num_partitions, int k);

// V distinct volumes (uniform, in draw order), one uniform slice per partition of each:
// [vol_a p0..p(S-1), vol_b p0..p(S-1), ...] (docs/method.md §2.2).
std::vector<SliceRef> sample_partitioned(const std::vector<int>& slice_counts, int num_volumes,
                                         int num_partitions, Rng& rng);

// n slices uniformly with replacement from all slices of all volumes (every slice equally
// likely; G^R, L^R and fine-tuning, docs/method.md §2.5, §3.2, §4.3).
std::vector<SliceRef> sample_uniform_slices(const std::vector<int>& slice_counts, int n, Rng& rng);

}  // namespace cs
