#pragma once
// Which slices make up a batch (docs/method.md §2.2-2.7, §3.2, §4.3), as a list of slots with
// metadata, so that the losses can derive positives and negatives from volumes, partitions and
// views, and augment.h can render the images.
//
// Volumes are given by their slice counts Q_v (index v into that list). Everything is
// deterministic for a given Rng state.
#include <cstdint>
#include <string>
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

// How a slot's image is made from its slice.
enum class ViewAug : uint8_t {
  None,           // the slice as is (or all zeros for a zero slot)
  CropIntensity,  // global view: random crop + resize, then brightness/contrast/clip (docs/method.md §2.8)
  Intensity,      // local view: brightness/contrast/clip only (docs/method.md §3.2)
};

struct BatchSlot {
  int volume = -1;      // -1: an all-zero image (reference G^D padding, docs/method.md §2.7)
  int slice = -1;
  int partition = -1;
  int draw = -1;        // index into BatchLayout::draws (slots showing the same slice share it)
  int view = 0;         // 0: the slice itself; 1, 2: augmented views
  int copy_of = -1;     // slot holding the un-augmented original in this batch, -1 if none
  ViewAug aug = ViewAug::None;
  int group = -1;       // intensity sub-batch: in Reference mode one draw u per group
  bool is_zero() const { return volume < 0; }
};

struct BatchLayout {
  std::vector<SliceRef> draws;   // the distinct slices drawn, in draw order
  std::vector<BatchSlot> slots;  // the batch, in network order
  int partitions = 0;            // S, or 0 for batches without partition structure
  size_t size() const { return slots.size(); }
  std::string describe() const;  // one line per slot, for logs and tests
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

// ---- batch layouts

// `paper` G^D and G^D- (docs/method.md §2.3-2.4): V volumes x S partitions x 2 views, slot
// ((v * S) + s) * 2 + view: view 0 is the slice itself, view 1 a crop+intensity view of it.
BatchLayout layout_global_paper(const std::vector<int>& slice_counts, int num_volumes,
                                int num_partitions, Rng& rng);

// `reference` G^D- (docs/method.md §2.6): 3 volumes x 4 partitions = 12 slices; 36 slots
// [12 originals; view 1 of the 12 (group 0); view 2 of the 12 (group 1)].
BatchLayout layout_gd_minus_reference(const std::vector<int>& slice_counts, Rng& rng);

// `reference` G^D (docs/method.md §2.7): two sets of 5 volumes x 4 partitions; 48 slots in blocks of 16:
// block b (b = 0, 1) = [set-1 volume b p0..p3, their crop+intensity copies, set-2 volume b
// p0..p3, their copies]; slots 32..47 are all-zero images, whose partition is set to their
// index mod 4 (the reference loss assigns partitions by index, zero slots included). Intensity groups: set-1 copies 0,
// set-2 copies 1 (volumes 0 and 1 of a set both sit in the first 12 of its 24-slot sub-batch).
BatchLayout layout_gd_reference(const std::vector<int>& slice_counts, Rng& rng);

// G^R (docs/method.md §2.5): n slices with replacement, two crop+intensity views interleaved (2k, 2k+1);
// first views are group 0, second views group 1.
BatchLayout layout_gr(const std::vector<int>& slice_counts, int n, Rng& rng);

// L^R (docs/method.md §3.2): n slices (10 in the method) with replacement, two intensity-only views
// interleaved (2k, 2k+1); groups as in G^R.
BatchLayout layout_lr(const std::vector<int>& slice_counts, int n, Rng& rng);

// L^D (docs/method.md §3.2): 3 volumes x 4 partitions = 12 slices; 24 slots [view 1 x 12 (group 0),
// view 2 x 12 (group 1)], intensity-only.
constexpr int kLdVolumes = 3, kLdPartitions = 4, kLdImages = 2 * kLdVolumes * kLdPartitions;
BatchLayout layout_ld(const std::vector<int>& slice_counts, Rng& rng);

}  // namespace cs
