#pragma once
// Batch assembly for the contrastive stages (docs/method.md §2.2-2.8, §3.2): draws dataset slices
// into a slot layout (losses/slot_layout.h) and renders its views with io's augmentation
// primitives. Deterministic for a given Rng state: the slices are drawn first, in the layout's
// draw order, then the views in slot order. Below them, the batches of the pretext tasks (§8):
// drawn slices turned, with patches swapped or with a square masked.
#include <string>
#include <vector>

#include "autograd/compat.h"
#include "experiments/settings.h"
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

// ---- the pretext tasks (docs/method.md §8)

// One batch of a pretext task on the host: the network's input and the task's target.
struct PretextBatch {
  int images = 0, side = 0;
  std::vector<float> input;   // [images][side][side]: what the network sees
  std::vector<float> target;  // [images][side][side]: the original slices (restoration, inpainting)
  std::vector<float> mask;    // [images][side][side]: 1 where the loss counts (inpainting), else empty
  std::vector<int> turns;     // [images]: the quarter turns of each image (rotation), else empty
};

// Rotation (§8.1): each slice in its four turns.
constexpr int kRotations = 4;  // 0, 90, 180 and 270 degrees
// dst [side][side] = src [side][side] turned counter-clockwise by quarter_turns x 90 degrees (as
// shown with row 0 at the top): dst[r][c] = src[c][side-1-r] for one turn. dst must not be src.
void rotate_quarter_turns(const float* src, int side, int quarter_turns, float* dst);
// The batch of n slices [n][side][side]: 4n images, image 4k + r is slice k turned r quarter turns.
PretextBatch rotation_batch(const float* slices, int n, int side);

// Context restoration (§8.2): pairs of disjoint patches swapped.
struct PatchSwap {
  int row_a = 0, col_a = 0, row_b = 0, col_b = 0;  // the top-left corners of the two patches
};
// `swaps` pairs of patch x patch squares inside a side x side slice, all 2 x swaps squares
// disjoint, each corner uniform among those that keep the square clear of the squares before it
// (drawn again from the first when the slice fills up). Throws std::invalid_argument when they
// cannot fit (config.cpp keeps them within a quarter of the slice).
std::vector<PatchSwap> draw_patch_swaps(int side, int patch, int swaps, Rng& rng);
// Swaps the pixels of each pair's two squares in image [side][side], in place.
void apply_patch_swaps(float* image, int side, int patch, const std::vector<PatchSwap>& swaps);
// The batch of n slices: each with its own swaps, drawn in slice order.
PretextBatch restoration_batch(const float* slices, int n, int side, int patch, int swaps, Rng& rng);

// Inpainting (§8.3): one masked square.
struct MaskSquare {
  int row = 0, col = 0, side = 0;  // top-left corner and side
};
// A mask x mask square inside a side x side slice, its corner uniform over the positions that
// keep it inside.
MaskSquare draw_mask_square(int side, int mask, Rng& rng);
// Fills the square of image [side][side] with the mean of the pixels outside it (Pathak et al.
// fill with the mean value; this is the mean the network can see); returns that value.
float apply_mask_square(float* image, int side, const MaskSquare& m);
// The batch of n slices: each with its own square, drawn in slice order.
PretextBatch inpainting_batch(const float* slices, int n, int side, int mask, Rng& rng);

// The slices a batch of `images` images is made of: images / 4 for rotation, images otherwise.
int pretext_slices(PretextTask task, int images);
// The task's batch of n slices [n][side][side] (p: task, patch, swaps, mask), as above.
PretextBatch make_pretext_batch(const PretextSettings& p, const float* slices, int n, int side, Rng& rng);

}  // namespace cs
