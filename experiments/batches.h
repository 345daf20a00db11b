#pragma once
// Batch assembly for the contrastive stages (docs/method.md §2.2-2.8, §3.2): draws dataset slices
// into a slot layout (losses/slot_layout.h) and renders its views with io's augmentation
// primitives. Deterministic for a given Rng state: the slices are drawn first, in the layout's
// draw order, then the views in slot order.
#include <string>
#include <vector>

#include "autograd/compat.h"
#include "io/augmentation/augment.h"
#include "io/augmentation/sampler.h"
#include "io/datasets/slices.h"
#include "io/rng.h"
#include "losses/slot_layout.h"

namespace cs {

// Per slot of a layout, the dataset volume and slice it shows (volume -1 for a zero slot) and
// the partition it was drawn from (-1 without partitions).
using DrawnBatch = std::vector<SliceRef>;

// Partitioned layouts: one sample_partitioned per entry of layout.draws, in order; G^R and L^R:
// sample_uniform_slices of layout.volumes slices. Throws when the volumes cannot fill the layout.
DrawnBatch draw_batch(const SlotLayout& layout, const std::vector<int>& slice_counts, Rng& rng);

// What was applied to one slot (for logs and tests).
struct ViewRecord {
  bool cropped = false;
  CropWindow crop;
  bool intensity = false;
  Intensity params;
};

// Renders a drawn batch into out [slots][h][w]: zero slots are zeros, view None copies the
// slice, CropIntensity crops+resizes then changes intensity, Intensity only changes intensity.
// Crop windows are drawn per slot; intensity draws are per image in paper mode and one u per
// layout group in reference mode. All stacks must be h x w.
void render_views(const SlotLayout& layout, const DrawnBatch& batch, const std::vector<SliceStack>& stacks,
                  Compat mode, Rng& rng, float* out, std::vector<ViewRecord>* records = nullptr,
                  const CropConfig& crop = {});

// One line per slot ("3: vol 5 slice 2 part 1 view 1 crop+intensity of 2 group 0"), for logs and
// tests.
std::string describe(const SlotLayout& layout, const DrawnBatch& batch);

}  // namespace cs
