#pragma once
// The structure of a contrastive batch (docs/method.md §2.2-2.7, §3.2): for every slot, in
// network order, which of the batch's volumes and partitions it shows, which view, and how its
// image is made. A pure function of the loss and its settings, written once: the losses derive
// their positives and negatives from it, and experiments/batches.h draws slices into it and
// renders its views, so the two cannot disagree on a row.
//
// Batch volumes are positions in the batch, not dataset volumes: 0..volumes-1 for batches drawn
// by partition, and for G^R and L^R (slices drawn uniformly from all volumes) the drawn slice k.
#include <cstdint>
#include <vector>

#include "autograd/compat.h"

namespace cs {

enum class GlobalLossKind;  // losses/global.h
enum class LocalLossKind;   // losses/local.h

// How a slot's image is made from its slice.
enum class ViewAug : uint8_t {
  None,           // the slice as is (or all zeros for a zero slot)
  CropIntensity,  // global view: random crop + resize, then brightness/contrast/clip (docs/method.md §2.8)
  Intensity,      // local view: brightness/contrast/clip only (docs/method.md §3.2)
};

struct Slot {
  int volume = -1;      // batch volume; -1: an all-zero image (reference G^D padding, docs/method.md §2.7)
  int partition = -1;   // -1 when the batch has no partition structure (G^R, L^R)
  int view = 0;         // 0: the slice itself; 1, 2: augmented views
  int copy_of = -1;     // slot holding the un-augmented original in this batch, -1 if none
  ViewAug aug = ViewAug::None;
  int group = -1;       // intensity sub-batch: in reference mode one draw per group
  bool is_zero() const { return volume < 0; }
};

struct SlotLayout {
  std::vector<Slot> slots;  // the batch, in network order
  int volumes = 0;          // batch volumes (G^R, L^R: slices)
  int partitions = 0;       // S; 0: slices drawn uniformly from all volumes (G^R, L^R)
  // Batches drawn by partition: the independent draws of distinct dataset volumes, each the batch
  // volumes it fills, in draw order. One draw, except reference G^D: two sets that may share a
  // volume.
  std::vector<std::vector<int>> draws;
  size_t size() const { return slots.size(); }
};

// paper G^D and G^{D-} (docs/method.md §2.3-2.4): V volumes x S partitions x 2 views, slot
// ((v * S) + s) * 2 + view: view 0 is the slice itself, view 1 a crop+intensity view of it.
SlotLayout paper_partition_layout(int volumes, int partitions);
// reference G^{D-} (docs/method.md §2.6): 3 volumes x 4 partitions = 12 slices; 36 slots
// [12 originals; view 1 of the 12 (group 0); view 2 of the 12 (group 1)].
SlotLayout reference_gd_minus_layout();
// reference G^D (docs/method.md §2.7): two sets of 2 volumes x 4 partitions; 48 slots in blocks of
// 16: block b = [set-1 volume p0..p3, their crop+intensity copies, set-2 volume p0..p3, their
// copies], batch volume 2b + set; slots 32..47 are all-zero images whose partition and view are
// those of their place in a block (the reference loss assigns partitions by index mod 4, zero
// slots included). Intensity groups: set-1 copies 0, set-2 copies 1.
SlotLayout reference_gd_layout();
// G^R (docs/method.md §2.5): n slices, two crop+intensity views interleaved (2k, 2k+1); first views
// are group 0, second views group 1.
SlotLayout random_pairs_layout(int slices);
// L^R (docs/method.md §3.2): as G^R with intensity-only views.
SlotLayout local_pairs_layout(int slices);
// L^D (docs/method.md §3.2): 3 volumes x 4 partitions = 12 slices; 24 slots [view 1 x 12
// (group 0), view 2 x 12 (group 1)], intensity-only.
constexpr int kLdVolumes = 3, kLdPartitions = 4, kLdImages = 2 * kLdVolumes * kLdPartitions;
SlotLayout ld_layout();

// The layout a loss trains on. Global: `n` is V for paper G^D/G^{D-} and the slices for G^R;
// reference G^D/G^{D-} have fixed slots. Local: `n` is the slices of L^R; L^D is fixed.
SlotLayout slot_layout(GlobalLossKind kind, Compat mode, int n, int partitions = 4);
SlotLayout slot_layout(LocalLossKind kind, int n);

}  // namespace cs
