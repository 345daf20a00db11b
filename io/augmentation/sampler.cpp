#include "io/augmentation/sampler.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>

namespace cs {

namespace {

const char* aug_name(ViewAug a) {
  switch (a) {
    case ViewAug::None: return "none";
    case ViewAug::CropIntensity: return "crop+intensity";
    case ViewAug::Intensity: return "intensity";
  }
  return "?";
}

void check_counts(const std::vector<int>& counts, const char* who) {
  if (counts.empty()) throw std::invalid_argument(std::string(who) + ": no volumes to sample from");
  for (size_t v = 0; v < counts.size(); ++v)
    if (counts[v] <= 0)
      throw std::invalid_argument(std::string(who) + ": volume " + std::to_string(v) + " has " +
                                  std::to_string(counts[v]) + " slices");
}

BatchSlot slot_of(const SliceRef& r, int draw) {
  BatchSlot s;
  s.volume = r.volume;
  s.slice = r.slice;
  s.partition = r.partition;
  s.draw = draw;
  return s;
}

// Appends an augmented view of slot `orig` (or of draw `draw` when the original is not in the
// batch, orig = -1).
void add_view(BatchLayout& L, const SliceRef& r, int draw, int view, int orig, ViewAug aug,
              int group) {
  BatchSlot s = slot_of(r, draw);
  s.view = view;
  s.copy_of = orig;
  s.aug = aug;
  s.group = group;
  L.slots.push_back(s);
}

// Two views of each of n uniformly drawn slices, interleaved (2k, 2k+1).
BatchLayout two_views_interleaved(const std::vector<int>& counts, int n, ViewAug aug, Rng& rng,
                                  const char* who) {
  if (n <= 0) throw std::invalid_argument(std::string(who) + ": batch of " + std::to_string(n) + " slices");
  BatchLayout L;
  L.draws = sample_uniform_slices(counts, n, rng);
  for (int k = 0; k < n; ++k) {
    add_view(L, L.draws[k], k, 1, -1, aug, 0);
    add_view(L, L.draws[k], k, 2, -1, aug, 1);
  }
  return L;
}

}  // namespace

std::string BatchLayout::describe() const {
  std::ostringstream o;
  for (size_t i = 0; i < slots.size(); ++i) {
    const BatchSlot& s = slots[i];
    o << i << ": ";
    if (s.is_zero()) {
      o << "zero\n";
      continue;
    }
    o << "vol " << s.volume << " slice " << s.slice << " part " << s.partition << " view " << s.view
      << " " << aug_name(s.aug);
    if (s.copy_of >= 0) o << " of " << s.copy_of;
    if (s.group >= 0) o << " group " << s.group;
    o << "\n";
  }
  return o.str();
}

std::pair<int, int> partition_range(int num_slices, int num_partitions, int k) {
  if (num_partitions <= 0 || k < 0 || k >= num_partitions)
    throw std::invalid_argument("partition_range: partition " + std::to_string(k) + " of " +
                                std::to_string(num_partitions));
  if (num_slices < num_partitions)
    throw std::invalid_argument("partition_range: a volume of " + std::to_string(num_slices) +
                                " slices cannot be split into " + std::to_string(num_partitions) +
                                " non-empty partitions");
  const int len = num_slices / num_partitions;
  return {k * len, (k + 1) * len};
}

std::vector<SliceRef> sample_partitioned(const std::vector<int>& counts, int num_volumes,
                                         int num_partitions, Rng& rng) {
  check_counts(counts, "sample_partitioned");
  if (num_volumes <= 0 || num_volumes > static_cast<int>(counts.size()))
    throw std::invalid_argument("sample_partitioned: " + std::to_string(num_volumes) +
                                " distinct volumes requested from " + std::to_string(counts.size()));
  std::vector<SliceRef> out;
  out.reserve(static_cast<size_t>(num_volumes) * num_partitions);
  for (int v : rng.sample_without_replacement(static_cast<int>(counts.size()), num_volumes)) {
    for (int k = 0; k < num_partitions; ++k) {
      auto [b, e] = partition_range(counts[v], num_partitions, k);
      out.push_back({v, rng.uniform_int(b, e - 1), k});
    }
  }
  return out;
}

std::vector<SliceRef> sample_uniform_slices(const std::vector<int>& counts, int n, Rng& rng) {
  check_counts(counts, "sample_uniform_slices");
  if (n < 0) throw std::invalid_argument("sample_uniform_slices: negative count");
  std::vector<int64_t> start(counts.size() + 1, 0);  // prefix sums: global slice index -> volume
  for (size_t v = 0; v < counts.size(); ++v) start[v + 1] = start[v] + counts[v];
  const int64_t total = start.back();
  if (total > INT32_MAX) throw std::invalid_argument("sample_uniform_slices: too many slices");
  std::vector<SliceRef> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    const int64_t g = rng.uniform_int(0, static_cast<int>(total - 1));
    size_t v = std::upper_bound(start.begin(), start.end(), g) - start.begin() - 1;
    out.push_back({static_cast<int>(v), static_cast<int>(g - start[v]), -1});
  }
  return out;
}

BatchLayout layout_global_paper(const std::vector<int>& counts, int num_volumes, int num_partitions,
                                Rng& rng) {
  BatchLayout L;
  L.partitions = num_partitions;
  L.draws = sample_partitioned(counts, num_volumes, num_partitions, rng);
  // Row ((v * S) + s) * 2 + view, as the loss orders them (losses/global.h). Only view 1 draws
  // random numbers, so the draws follow the order of the slices.
  for (int d = 0; d < num_volumes * num_partitions; ++d) {
    const int original = static_cast<int>(L.slots.size());
    L.slots.push_back(slot_of(L.draws[d], d));
    add_view(L, L.draws[d], d, 1, original, ViewAug::CropIntensity, 0);
  }
  return L;
}

BatchLayout layout_gd_minus_reference(const std::vector<int>& counts, Rng& rng) {
  // The released code draws 24 slots from all volumes (shuffled) and keeps the first 12: that is
  // distributed exactly as 3 distinct random volumes x 4 partitions.
  constexpr int kParts = 4, kVols = 3, kN = kParts * kVols;
  BatchLayout L;
  L.partitions = kParts;
  L.draws = sample_partitioned(counts, kVols, kParts, rng);
  for (int i = 0; i < kN; ++i) L.slots.push_back(slot_of(L.draws[i], i));
  for (int view = 1; view <= 2; ++view)
    for (int i = 0; i < kN; ++i) add_view(L, L.draws[i], i, view, i, ViewAug::CropIntensity, view - 1);
  return L;
}

BatchLayout layout_gd_reference(const std::vector<int>& counts, Rng& rng) {
  // Each set draws 5 volumes, but the stitch only ever uses its first 2: drawing 2 distinct
  // volumes per set is the same distribution. The two sets are independent (they may share a
  // volume).
  constexpr int kParts = 4, kUsedVols = 2, kBatch = 48, kBlock = 4 * kParts;
  BatchLayout L;
  L.partitions = kParts;
  std::vector<SliceRef> set[2];
  for (int s = 0; s < 2; ++s) {
    set[s] = sample_partitioned(counts, kUsedVols, kParts, rng);
    L.draws.insert(L.draws.end(), set[s].begin(), set[s].end());
  }
  for (int b = 0; b < kUsedVols; ++b) {
    for (int s = 0; s < 2; ++s) {
      const int orig_first = static_cast<int>(L.slots.size());
      for (int k = 0; k < kParts; ++k) {
        const int d = s * kUsedVols * kParts + b * kParts + k;
        L.slots.push_back(slot_of(L.draws[d], d));
      }
      for (int k = 0; k < kParts; ++k) {
        const int d = s * kUsedVols * kParts + b * kParts + k;
        add_view(L, L.draws[d], d, 1, orig_first + k, ViewAug::CropIntensity, s);
      }
    }
  }
  static_assert(2 * kBlock == 32, "two filled blocks");
  while (static_cast<int>(L.slots.size()) < kBatch) {
    BatchSlot z;  // all-zero image: no slice, not augmented
    z.partition = static_cast<int>(L.slots.size()) % kParts;  // the loss's index-mod-4 rule
    L.slots.push_back(z);
  }
  return L;
}

BatchLayout layout_gr(const std::vector<int>& counts, int n, Rng& rng) {
  return two_views_interleaved(counts, n, ViewAug::CropIntensity, rng, "layout_gr");
}

BatchLayout layout_lr(const std::vector<int>& counts, int n, Rng& rng) {
  return two_views_interleaved(counts, n, ViewAug::Intensity, rng, "layout_lr");
}

BatchLayout layout_ld(const std::vector<int>& counts, Rng& rng) {
  constexpr int kParts = kLdPartitions, kVols = kLdVolumes, kN = kParts * kVols;
  BatchLayout L;
  L.partitions = kParts;
  L.draws = sample_partitioned(counts, kVols, kParts, rng);
  for (int view = 1; view <= 2; ++view)
    for (int i = 0; i < kN; ++i) add_view(L, L.draws[i], i, view, -1, ViewAug::Intensity, view - 1);
  return L;
}

}  // namespace cs
