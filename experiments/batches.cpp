// Drawing and rendering contrastive batches (see experiments/batches.h).
#include "experiments/batches.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <utility>

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

}  // namespace cs
