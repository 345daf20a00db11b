#pragma once
// Data augmentation on the CPU, deterministic for a given Rng state (docs/method.md §2.8, §3.2, §4.4).
//
// Images are float [h][w] row-major (a batch is [n][h][w], i.e. NHWC with C = 1); label maps are
// uint8 [h][w]; soft labels are channels-last [n][h][w][C], the layout of the network's logits.
// Interpolation follows the libraries the method was written with, so that views match:
//   - resize_linear: skimage.transform.resize(order=1, mode='reflect', anti_aliasing=False);
//   - resize_cubic:  skimage.transform.resize(order=3, mode='reflect'): a cubic B-spline with
//                    mirror boundary (scipy.ndimage 'mirror'), clipped to the input's range;
//   - rotate:        scipy.ndimage.rotate(axes=(1,0), reshape=False, order 0/1, mode 'constant');
//   - rescale_crop_pad: skimage.transform.rescale(order 0/1, mode='constant') then centre
//                    crop/pad (the anti-aliasing Gaussian of a 0.95 downscale has sigma 0.026 px
//                    and a one-tap kernel, so it is the identity and is omitted);
//   - dense_warp:    tf.contrib.image.dense_image_warp (bilinear, edges clamped).
// scripts/check_augment.py compares these with scipy/skimage numerically.
#include <cstdint>
#include <vector>

#include "autograd/compat.h"
#include "io/rng.h"
#include "io/augmentation/sampler.h"
#include "io/datasets/slices.h"

namespace cs {

// ---------------------------------------------------------------- interpolation primitives

// src [sh][sw] -> dst [dh][dw], linear, mirror boundary, pixel-centre aligned.
void resize_linear(const float* src, int sh, int sw, float* dst, int dh, int dw);
// src [sh][sw] -> dst [dh][dw], cubic B-spline (mirror), output clipped to [min(src), max(src)].
void resize_cubic(const double* src, int sh, int sw, float* dst, int dh, int dw);
// Rotation by `degrees` about the image centre ((h-1)/2, (w-1)/2), same size; order 0
// (nearest, ties round up) or 1 (linear); samples outside [0, h-1] x [0, w-1] are 0.
void rotate(const float* src, int h, int w, double degrees, int order, float* dst);
void rotate_labels(const uint8_t* src, int h, int w, double degrees, uint8_t* dst);
// Rescale by `scale` (output side round(scale * side)), then centre crop ((size - target) / 2)
// or zero pad ((target - size) / 2) back to h x w. order 0 or 1; zero outside the image.
void rescale_crop_pad(const float* src, int h, int w, double scale, int order, float* dst);
void rescale_crop_pad_labels(const uint8_t* src, int h, int w, double scale, uint8_t* dst);
// Left-right flip (reverses each row), in place.
void flip_lr(float* img, int h, int w);
void flip_lr_labels(uint8_t* lbl, int h, int w);
// Bilinear resampling of src [h][w][c] at (row - flow[.., 0], col - flow[.., 1]), coordinates
// clamped to the image; flow is [h][w][2]. dst [h][w][c] must not alias src.
void dense_warp(const float* src, int h, int w, int c, const float* flow, float* dst);

// ---------------------------------------------------------------- global and local views

struct CropWindow {
  int row = 0, col = 0;    // top-left corner (x along rows, y along columns, as numpy slices)
  int rows = 0, cols = 0;  // actual extent after clipping to the image (numpy slicing)
};
struct CropConfig {
  int box = 100;             // bbox_dim
  int lo = 10, hi = 69;      // corner range, both ends included
};
// Draws the corner (row first, then column) uniformly in [lo, hi]; a window running past the
// border is clipped, as numpy slicing does (160x160 MMWHS images), and must stay non-empty.
CropWindow draw_crop(int h, int w, Rng& rng, const CropConfig& cfg = {});
// dst [h][w] = resize_linear(src[window]).
void crop_resize(const float* src, int h, int w, const CropWindow& win, float* dst);

struct Intensity {
  float delta = 0.f;   // brightness: added
  float factor = 1.f;  // contrast: (x - mean) * factor + mean, mean of the image after brightness
};
// Paper mode: independent delta ~ U(-max_delta, max_delta), factor ~ U(lo, hi).
Intensity draw_intensity(Rng& rng, float max_delta = 0.3f, float lo = 0.7f, float hi = 1.3f);
// Reference mode: one u drives both (TF1 ops sharing an op seed): delta = 0.6u - 0.3,
// factor = 0.7 + 0.6u, so factor = 1 + delta.
Intensity coupled_intensity(double u);
// Brightness, then contrast about the image's own mean, then clip to [clip_lo, clip_hi]
// (no clipping when clip_lo > clip_hi). img [n].
void apply_intensity(float* img, int n, const Intensity& t, float clip_lo = 0.f, float clip_hi = 1.5f);

// ---------------------------------------------------------------- fine-tuning (docs/method.md §4.4)

// Two 3x3 grids of N(0, sigma) pixel displacements, each upsampled with resize_cubic:
// flow [h][w][2], channel 0 from the first grid (rows), channel 1 from the second (columns).
void random_flow(int h, int w, double sigma, Rng& rng, float* flow);

struct FinetuneAugOptions {
  bool affine = true;      // (a): one of 5 affine options per image
  bool deform = true;      // (b)+(c): elastic deformation of images n..B-1
  double sigma = 5.0;      // deformation grid std (pixels)
  // (d): contrast U(0.8, 1.2) on the first half of the batch, brightness U(-0.1, 0.1) on the
  // second half, applied to the deformed images. On in Paper mode, off in Reference mode (the
  // released code computes it and throws it away); -1 follows the mode, 0/1 force it.
  int intensity = -1;
};

struct FinetuneRecord {
  std::vector<int> affine_option;  // per image: 0 rotate, 1 scale, 2 flip, 3 rot45, 4 none; -1 skipped (max <= 0.001)
  std::vector<double> affine_param;  // angle (deg), scale, flipped (0/1), angle (deg), 0
  int first_deformed = -1;           // n: images n.. are deformed (-1: no deformation)
  std::vector<Intensity> intensity;  // per image (identity where none applied)
};

// Augments a fine-tuning batch in place of copies: images [b][h][w] -> out_images [b][h][w];
// labels [b][h][w] (values < num_classes) -> out_labels [b][h][w][num_classes], one-hot for
// images that were not deformed, soft (bilinearly warped one-hot, summing to 1) for deformed ones.
// The number of images kept undeformed n is uniform in [1, b - 2] (the method's [1, 18] for its
// batch of 20); b must be >= 3 when deformation is on.
void augment_finetune(const float* images, const uint8_t* labels, int b, int h, int w,
                      int num_classes, Compat mode, const FinetuneAugOptions& opt, Rng& rng,
                      float* out_images, float* out_labels, FinetuneRecord* record = nullptr);

// Gathers slices of labelled stacks into images [n][h][w] and labels [n][h][w] (for
// augment_finetune) from sample_uniform_slices draws.
void gather_slices(const std::vector<SliceStack>& stacks, const std::vector<SliceRef>& refs,
                   float* images, uint8_t* labels);

}  // namespace cs
