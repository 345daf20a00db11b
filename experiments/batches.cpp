// Drawing and rendering contrastive batches, and making the pretext tasks' batches (see
// experiments/batches.h).
#include "experiments/batches.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

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

// The drawn slice of every (batch volume, partition), index volume * S + partition; for layouts
// without partitions, of every batch volume (one slice each).
std::vector<SliceRef> draw_slices(const SlotLayout& layout, const std::vector<int>& counts, Rng& rng) {
  const int S = layout.partitions;
  if (S == 0) return sample_uniform_slices(counts, layout.volumes, rng);
  std::vector<SliceRef> slices(static_cast<size_t>(layout.volumes) * S);
  for (const std::vector<int>& set : layout.draws) {
    const std::vector<SliceRef> d = sample_partitioned(counts, static_cast<int>(set.size()), S, rng);
    for (size_t j = 0; j < set.size(); ++j)
      for (int k = 0; k < S; ++k) slices.at(static_cast<size_t>(set[j]) * S + k) = d[j * S + k];
  }
  return slices;
}

}  // namespace

DrawnBatch draw_batch(const SlotLayout& layout, const std::vector<int>& counts, Rng& rng) {
  const std::vector<SliceRef> slices = draw_slices(layout, counts, rng);
  const int S = std::max(layout.partitions, 1);
  DrawnBatch batch;
  batch.reserve(layout.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    const Slot& s = layout.slots[i];
    if (s.is_zero()) {
      batch.push_back({-1, -1, s.partition});
      continue;
    }
    const bool in_layout = s.volume < layout.volumes && (layout.partitions == 0 ? s.partition < 0
                                                                                 : s.partition >= 0 && s.partition < S);
    const size_t at = static_cast<size_t>(s.volume) * S + std::max(s.partition, 0);
    if (!in_layout || slices[at].volume < 0)
      throw std::invalid_argument("draw_batch: slot " + std::to_string(i) + " shows batch volume " +
                                  std::to_string(s.volume) + ", partition " + std::to_string(s.partition) +
                                  ", which the layout's draws do not fill");
    batch.push_back(slices[at]);
  }
  return batch;
}

void render_views(const SlotLayout& layout, const DrawnBatch& batch, const std::vector<SliceStack>& stacks,
                  Compat mode, Rng& rng, float* out, std::vector<ViewRecord>* records, const CropConfig& crop) {
  if (stacks.empty()) throw std::invalid_argument("render_views: no volumes");
  if (batch.size() != layout.size())
    throw std::invalid_argument("render_views: " + std::to_string(batch.size()) + " drawn slices for " +
                                std::to_string(layout.size()) + " slots");
  const int h = stacks[0].h, w = stacks[0].w;
  for (size_t v = 0; v < stacks.size(); ++v)
    if (stacks[v].h != h || stacks[v].w != w)
      throw std::invalid_argument("render_views: volume " + std::to_string(v) + " has slices of " +
                                  std::to_string(stacks[v].h) + "x" + std::to_string(stacks[v].w) +
                                  ", volume 0 has " + std::to_string(h) + "x" + std::to_string(w));
  const size_t n = static_cast<size_t>(h) * w;
  // Reference mode: one u per intensity group, drawn in order of the groups' first appearance.
  std::vector<std::pair<int, Intensity>> group_params;
  if (mode == Compat::Reference)
    for (const Slot& s : layout.slots) {
      if (s.aug == ViewAug::None || s.group < 0 || s.is_zero()) continue;
      bool seen = false;
      for (auto& g : group_params) seen |= g.first == s.group;
      if (!seen) group_params.push_back({s.group, coupled_intensity(rng.uniform())});
    }
  if (records) records->assign(layout.size(), ViewRecord{});
  for (size_t i = 0; i < layout.size(); ++i) {
    const Slot& s = layout.slots[i];
    float* dst = out + i * n;
    if (s.is_zero()) {
      std::fill(dst, dst + n, 0.f);
      continue;
    }
    const SliceRef& r = batch[i];
    if (r.volume < 0 || r.volume >= static_cast<int>(stacks.size()))
      throw std::invalid_argument("render_views: slot " + std::to_string(i) + " names volume " +
                                  std::to_string(r.volume) + " of " + std::to_string(stacks.size()));
    const float* src = stacks[r.volume].slice(r.slice);
    ViewRecord rec;
    if (s.aug == ViewAug::CropIntensity) {
      rec.cropped = true;
      rec.crop = draw_crop(h, w, rng, crop);
      crop_resize(src, h, w, rec.crop, dst);
    } else {
      std::copy(src, src + n, dst);
    }
    if (s.aug != ViewAug::None) {
      rec.intensity = true;
      if (mode == Compat::Paper) {
        rec.params = draw_intensity(rng);
      } else {
        bool found = false;  // slots without a group (id < 0) get a draw of their own
        for (auto& g : group_params)
          if (s.group >= 0 && g.first == s.group) rec.params = g.second, found = true;
        if (!found) rec.params = coupled_intensity(rng.uniform());
      }
      apply_intensity(dst, static_cast<int>(n), rec.params);
    }
    if (records) (*records)[i] = rec;
  }
}

std::string describe(const SlotLayout& layout, const DrawnBatch& batch) {
  std::ostringstream o;
  for (size_t i = 0; i < layout.size(); ++i) {
    const Slot& s = layout.slots[i];
    o << i << ": ";
    if (s.is_zero()) {
      o << "zero\n";
      continue;
    }
    const SliceRef& r = batch.at(i);
    o << "vol " << r.volume << " slice " << r.slice << " part " << s.partition << " view " << s.view << " "
      << aug_name(s.aug);
    if (s.copy_of >= 0) o << " of " << s.copy_of;
    if (s.group >= 0) o << " group " << s.group;
    o << "\n";
  }
  return o.str();
}

// ---- the pretext tasks (docs/method.md §8)

void rotate_quarter_turns(const float* src, int side, int quarter_turns, float* dst) {
  if (src == dst) throw std::invalid_argument("rotate_quarter_turns: the output must not be the input");
  const int k = ((quarter_turns % kRotations) + kRotations) % kRotations;
  const int last = side - 1;
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c) {
      // Where pixel (r, c) of the turned image comes from.
      int sr = r, sc = c;
      if (k == 1) sr = c, sc = last - r;
      if (k == 2) sr = last - r, sc = last - c;
      if (k == 3) sr = last - c, sc = r;
      dst[static_cast<size_t>(r) * side + c] = src[static_cast<size_t>(sr) * side + sc];
    }
}

PretextBatch rotation_batch(const float* slices, int n, int side) {
  PretextBatch b;
  b.images = n * kRotations;
  b.side = side;
  const size_t px = static_cast<size_t>(side) * side;
  b.input.resize(b.images * px);
  b.turns.resize(b.images);
  for (int k = 0; k < n; ++k)
    for (int r = 0; r < kRotations; ++r) {
      const int i = k * kRotations + r;
      rotate_quarter_turns(slices + k * px, side, r, b.input.data() + i * px);
      b.turns[i] = r;
    }
  return b;
}

namespace {

bool overlaps(int r0, int c0, int r1, int c1, int patch) {
  return r0 < r1 + patch && r1 < r0 + patch && c0 < c1 + patch && c1 < c0 + patch;
}

}  // namespace

std::vector<PatchSwap> draw_patch_swaps(int side, int patch, int swaps, Rng& rng) {
  if (patch < 1 || patch > side || swaps < 0)
    throw std::invalid_argument(fmt::format("draw_patch_swaps: {} swaps of {}x{} patches in a {}x{} slice", swaps,
                                            patch, patch, side, side));
  // Rejection from the uniform corner: uniform over the corners that stay clear. A slice filled
  // up by unlucky corners starts again; within a quarter of the slice that is rare.
  constexpr int kTries = 1000, kRestarts = 100;
  const int hi = side - patch;
  for (int restart = 0; restart < kRestarts; ++restart) {
    std::vector<std::pair<int, int>> corners;
    bool full = false;
    while (!full && static_cast<int>(corners.size()) < 2 * swaps) {
      full = true;
      for (int t = 0; t < kTries && full; ++t) {
        const int r = rng.uniform_int(0, hi), c = rng.uniform_int(0, hi);
        if (std::none_of(corners.begin(), corners.end(),
                         [&](const std::pair<int, int>& o) { return overlaps(r, c, o.first, o.second, patch); })) {
          corners.push_back({r, c});
          full = false;
        }
      }
    }
    if (full) continue;
    std::vector<PatchSwap> out(swaps);
    for (int k = 0; k < swaps; ++k)
      out[k] = {corners[2 * k].first, corners[2 * k].second, corners[2 * k + 1].first, corners[2 * k + 1].second};
    return out;
  }
  throw std::invalid_argument(fmt::format("draw_patch_swaps: {} pairs of disjoint {}x{} patches do not fit in a {}x{} "
                                          "slice; lower pretext.swaps or pretext.patch",
                                          swaps, patch, patch, side, side));
}

void apply_patch_swaps(float* image, int side, int patch, const std::vector<PatchSwap>& swaps) {
  for (const PatchSwap& s : swaps)
    for (int dr = 0; dr < patch; ++dr)
      std::swap_ranges(image + static_cast<size_t>(s.row_a + dr) * side + s.col_a,
                       image + static_cast<size_t>(s.row_a + dr) * side + s.col_a + patch,
                       image + static_cast<size_t>(s.row_b + dr) * side + s.col_b);
}

namespace {

// n slices [n, side, side] as both the input and the target, before the corruption.
PretextBatch uncorrupted(const float* slices, int n, int side) {
  PretextBatch b;
  b.images = n;
  b.side = side;
  b.target.assign(slices, slices + static_cast<size_t>(n) * side * side);
  b.input = b.target;
  return b;
}

}  // namespace

PretextBatch restoration_batch(const float* slices, int n, int side, int patch, int swaps, Rng& rng) {
  PretextBatch b = uncorrupted(slices, n, side);
  const size_t px = static_cast<size_t>(side) * side;
  for (int k = 0; k < n; ++k)
    apply_patch_swaps(b.input.data() + k * px, side, patch, draw_patch_swaps(side, patch, swaps, rng));
  return b;
}

MaskSquare draw_mask_square(int side, int mask, Rng& rng) {
  if (mask < 1 || mask >= side)
    throw std::invalid_argument(fmt::format("draw_mask_square: a {}x{} mask in a {}x{} slice", mask, mask, side, side));
  const int row = rng.uniform_int(0, side - mask), col = rng.uniform_int(0, side - mask);
  return {row, col, mask};
}

float apply_mask_square(float* image, int side, const MaskSquare& m) {
  auto inside = [&](int r, int c) { return r >= m.row && r < m.row + m.side && c >= m.col && c < m.col + m.side; };
  double sum = 0;
  long visible = 0;
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c)
      if (!inside(r, c)) {
        sum += image[static_cast<size_t>(r) * side + c];
        ++visible;
      }
  const float fill = visible ? static_cast<float>(sum / visible) : 0.f;
  for (int r = m.row; r < m.row + m.side; ++r)
    for (int c = m.col; c < m.col + m.side; ++c) image[static_cast<size_t>(r) * side + c] = fill;
  return fill;
}

PretextBatch inpainting_batch(const float* slices, int n, int side, int mask, Rng& rng) {
  PretextBatch b = uncorrupted(slices, n, side);
  const size_t px = static_cast<size_t>(side) * side;
  b.mask.assign(n * px, 0.f);
  for (int k = 0; k < n; ++k) {
    const MaskSquare m = draw_mask_square(side, mask, rng);
    apply_mask_square(b.input.data() + k * px, side, m);
    for (int r = m.row; r < m.row + m.side; ++r)
      for (int c = m.col; c < m.col + m.side; ++c) b.mask[k * px + static_cast<size_t>(r) * side + c] = 1.f;
  }
  return b;
}

int pretext_slices(PretextTask task, int images) { return task == PretextTask::Rotation ? images / kRotations : images; }

PretextBatch make_pretext_batch(const PretextSettings& p, const float* slices, int n, int side, Rng& rng) {
  switch (p.task) {
    case PretextTask::Rotation: return rotation_batch(slices, n, side);
    case PretextTask::Restoration: return restoration_batch(slices, n, side, p.patch, p.swaps, rng);
    case PretextTask::Inpainting: return inpainting_batch(slices, n, side, p.mask, rng);
  }
  throw std::logic_error("make_pretext_batch: unknown task");
}

}  // namespace cs
