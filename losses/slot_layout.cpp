// Batch layouts of the contrastive losses (see losses/slot_layout.h).
#include "losses/slot_layout.h"

#include <numeric>
#include <stdexcept>
#include <string>

#include "losses/global.h"
#include "losses/local.h"

namespace cs {

namespace {

Slot original(int volume, int partition) {
  Slot s;
  s.volume = volume;
  s.partition = partition;
  return s;
}

// An augmented view of (volume, partition); `orig` is the slot of its original, -1 if the batch
// has none.
Slot augmented(int volume, int partition, int view, int orig, ViewAug aug, int group) {
  Slot s = original(volume, partition);
  s.view = view;
  s.copy_of = orig;
  s.aug = aug;
  s.group = group;
  return s;
}

// Volumes 0..V-1 drawn together, as one set of distinct volumes.
std::vector<std::vector<int>> one_draw(int volumes) {
  std::vector<int> all(volumes);
  std::iota(all.begin(), all.end(), 0);
  return {all};
}

// Two views of each of n uniformly drawn slices, interleaved (2k, 2k+1).
SlotLayout two_views_interleaved(int n, ViewAug aug, const char* who) {
  if (n < 1) throw std::invalid_argument(std::string(who) + ": need at least one slice, got " + std::to_string(n));
  SlotLayout L;
  L.volumes = n;
  for (int k = 0; k < n; ++k) {
    L.slots.push_back(augmented(k, -1, 1, -1, aug, 0));
    L.slots.push_back(augmented(k, -1, 2, -1, aug, 1));
  }
  return L;
}

}  // namespace

SlotLayout paper_partition_layout(int volumes, int partitions) {
  if (volumes < 1 || partitions < 1)
    throw std::invalid_argument("paper_partition_layout: need volumes >= 1 and partitions >= 1, got " +
                                std::to_string(volumes) + " and " + std::to_string(partitions));
  SlotLayout L;
  L.volumes = volumes;
  L.partitions = partitions;
  L.draws = one_draw(volumes);
  for (int v = 0; v < volumes; ++v)
    for (int s = 0; s < partitions; ++s) {
      const int orig = static_cast<int>(L.slots.size());
      L.slots.push_back(original(v, s));
      L.slots.push_back(augmented(v, s, 1, orig, ViewAug::CropIntensity, 0));
    }
  return L;
}

SlotLayout reference_gd_minus_layout() {
  // The released code draws 24 slots from all volumes (shuffled) and keeps the first 12: that is
  // distributed exactly as 3 distinct random volumes x 4 partitions.
  constexpr int kParts = 4, kVols = 3, kN = kParts * kVols;
  SlotLayout L;
  L.volumes = kVols;
  L.partitions = kParts;
  L.draws = one_draw(kVols);
  for (int i = 0; i < kN; ++i) L.slots.push_back(original(i / kParts, i % kParts));
  for (int view = 1; view <= 2; ++view)
    for (int i = 0; i < kN; ++i)
      L.slots.push_back(augmented(i / kParts, i % kParts, view, i, ViewAug::CropIntensity, view - 1));
  return L;
}

SlotLayout reference_gd_layout() {
  // Each set draws 5 volumes, but the stitch only ever uses its first 2: drawing 2 distinct
  // volumes per set is the same distribution. The two sets are independent (they may share a
  // volume). Set s's volume b is batch volume 2b + s.
  constexpr int kParts = 4, kUsedVols = 2, kBatch = 48;
  SlotLayout L;
  L.volumes = 2 * kUsedVols;
  L.partitions = kParts;
  L.draws = {{0, 2}, {1, 3}};
  for (int b = 0; b < kUsedVols; ++b)
    for (int s = 0; s < 2; ++s) {
      const int v = 2 * b + s, orig_first = static_cast<int>(L.slots.size());
      for (int k = 0; k < kParts; ++k) L.slots.push_back(original(v, k));
      for (int k = 0; k < kParts; ++k)
        L.slots.push_back(augmented(v, k, 1, orig_first + k, ViewAug::CropIntensity, s));
    }
  while (static_cast<int>(L.slots.size()) < kBatch) {  // the stitch loop fills only two blocks
    const int i = static_cast<int>(L.slots.size());
    Slot z;  // all-zero image: no slice, not augmented
    z.partition = i % kParts;          // the loss's index-mod-4 rule
    z.view = (i % (2 * kParts)) / kParts;  // the place of an original (0) or a copy (1) in its block
    L.slots.push_back(z);
  }
  return L;
}

SlotLayout random_pairs_layout(int slices) {
  return two_views_interleaved(slices, ViewAug::CropIntensity, "random_pairs_layout");
}

SlotLayout local_pairs_layout(int slices) {
  return two_views_interleaved(slices, ViewAug::Intensity, "local_pairs_layout");
}

SlotLayout ld_layout() {
  constexpr int kN = kLdVolumes * kLdPartitions;
  SlotLayout L;
  L.volumes = kLdVolumes;
  L.partitions = kLdPartitions;
  L.draws = one_draw(kLdVolumes);
  for (int view = 1; view <= 2; ++view)
    for (int i = 0; i < kN; ++i)
      L.slots.push_back(augmented(i / kLdPartitions, i % kLdPartitions, view, -1, ViewAug::Intensity, view - 1));
  return L;
}

SlotLayout slot_layout(GlobalLossKind kind, Compat mode, int n, int partitions) {
  if (kind == GlobalLossKind::GR) return random_pairs_layout(n);
  if (mode == Compat::Paper) return paper_partition_layout(n, partitions);
  return kind == GlobalLossKind::GD ? reference_gd_layout() : reference_gd_minus_layout();
}

SlotLayout slot_layout(LocalLossKind kind, int n) {
  return kind == LocalLossKind::LR ? local_pairs_layout(n) : ld_layout();
}

}  // namespace cs
