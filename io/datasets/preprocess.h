#pragma once
// Preprocessing of docs/method.md §6.2 (its step 1, N4, is io/datasets/n4.h) and its inverse for evaluation (§7.1).
//
// Forward, per volume: percentile normalisation (v - p1) / (p99 - p1), no clipping; then, slice by
// slice, in-plane resampling to the target resolution (linear for images, nearest for labels) and
// a centre crop or zero pad to the network input size. The slice axis (NIfTI z) is never resampled.
//
// Axis convention: NIfTI x becomes the ROW (h) axis and NIfTI y the COLUMN (w) axis, i.e. slice z
// of a volume is the 2D array a[x][y] — what the reference code gets by indexing a nibabel array
// img[:, :, z]. A SliceStack (io/datasets/slices.h) holds image[(z * h + row) * w + col] with row = x,
// col = y; the inverse path uses the same convention.
//
// Resampling matches scikit-image `rescale` / `resize` with order 1 (or 0), mode 'constant',
// cval 0, preserve_range, anti_aliasing off (scikit-image 0.19+ goes through
// scipy.ndimage.zoom with grid_mode=True):
//   - output size n_out = max(1, round_half_even(n * native / target));
//   - output sample o reads input coordinate c = (o + 0.5) * (n / n_out) - 0.5 (pixel centres
//     aligned, the "grid" convention);
//   - linear: weights (1 - t, t) on floor(c) and floor(c) + 1, where samples outside the input
//     read the constant 0 ('grid-constant'), so borders blend towards 0 when up-sampling;
//   - nearest: the input sample floor(c + 0.5);
//   - linear results are clipped to the input's [min, max] range, widened to include 0 when the
//     output reaches 0 (scikit-image's clip=True with preserve_cval).
// tests/io/test_preprocess.cpp checks this against values computed by scikit-image
// (scripts/make_nifti_fixtures.py).
#include <string>
#include <vector>

#include "io/datasets/slices.h"
#include "io/volume.h"

namespace cs {

// Per-dataset constants of docs/method.md §6.1.
// A case ready for training or evaluation: its preprocessed slices, and the native volumes that
// evaluation maps predictions back to.
struct PreparedCase {
  std::string id;
  SliceStack stack;   // preprocessed slices [z][h][w] (+ labels when present)
  Volume native_label;  // the original label volume (evaluation compares at native resolution)
  Volume native_image;  // kept only for evaluation (geometry of the predictions)
};

struct PreprocessParams {
  double target_dx = 1.0, target_dy = 1.0;  // in-plane target resolution (mm): along x, along y
  int out_h = 192, out_w = 192;             // network input: rows (x) x cols (y)
  int num_classes = 4;
  std::vector<std::string> class_names;  // index 0 = background
};
// "acdc": 1.36719 mm, 192x192, 4 classes; "prostate": 0.625 mm, 192x192, 3; "mmwhs": 1.5 mm,
// 160x160, 8. Throws std::invalid_argument otherwise.
PreprocessParams dataset_params(const std::string& dataset);

// numpy.percentile(values, q) with the default 'linear' method, q in [0, 100].
double percentile(std::vector<float> values, double q);

// (v - p1) / (p99 - p1) over the whole volume, in place, without clipping. Throws
// std::runtime_error when p99 == p1 (a constant volume cannot be normalised).
void normalize_percentile(Volume& v);

// max(1, round_half_even(n * scale)), as numpy.round in scikit-image's rescale.
int rescaled_size(int n, double scale);

// Resizes an (in_h x in_w x channels) array (channels fastest, row-major) to out_h x out_w with the
// conventions above. Channels are not mixed; the clip range is taken over all channels.
std::vector<float> resize_linear(const float* src, int in_h, int in_w, int channels, int out_h, int out_w);
std::vector<float> resize_nearest(const float* src, int in_h, int in_w, int channels, int out_h, int out_w);

// Centre crop or zero pad of an (in_h x in_w x channels) array to out_h x out_w, per axis:
// crop from (in - out) / 2 when in > out, else pad at (out - in) / 2.
std::vector<float> crop_or_pad(const float* src, int in_h, int in_w, int channels, int out_h, int out_w);
// Inverse: puts an (out_h x out_w x channels) array back into a zero canvas of in_h x in_w (what
// crop_or_pad cropped away stays 0; what it padded is dropped).
std::vector<float> uncrop(const float* src, int out_h, int out_w, int channels, int in_h, int in_w);

// Sizes along the way for one volume: native (nx, ny, nz), the rescaled canvas (rx, ry), the
// network input (h, w).
struct SliceGeometry {
  int nx = 0, ny = 0, nz = 0;
  int rx = 0, ry = 0;
  int h = 0, w = 0;
};
SliceGeometry slice_geometry(const Volume& native, const PreprocessParams& p);

// Slice z of a volume as a row-major [x][y] array.
std::vector<float> volume_slice(const Volume& v, int z);

// Normalises (a copy of) image, resamples and crops every slice. With a label (same dims), the
// label is resampled with nearest neighbour and stored as uint8. Its values must be class indices
// 0..p.num_classes-1 (check_label_value): everything downstream (one-hot, class weights, Dice,
// metrics) indexes by them. Result: nz slices of out_h x out_w.
// Throws std::invalid_argument naming `what`, the voxel and the fix unless v is an integer in
// [0, num_classes).
void check_label_value(float v, int num_classes, const std::string& what, int x, int y, int z);

// label_what names the label in its errors (default: what).
SliceStack preprocess_volume(const Volume& image, const Volume* label, const PreprocessParams& p,
                             const std::string& what = "volume", const std::string& label_what = "");

// Inverse path of docs/method.md §7.1: prob holds per-slice class probabilities [nz][out_h][out_w][C] at the
// network input size. Each slice is uncropped into the rescaled canvas, resized linearly to the
// native in-plane size, and argmax'ed (first maximum wins). Returns a label volume with native's
// dims and geometry (datatype uint8).
Volume probabilities_to_labels(const std::vector<float>& prob, int num_classes, const Volume& native,
                               const PreprocessParams& p);

// A preprocessed stack as a NIfTI-ready volume: nx = h (rows), ny = w (cols), nz slices, with
// geometry derived from `native` so that each voxel keeps its world position (voxel size native *
// n / n_rescaled in-plane, origin shifted by the crop/pad). label = true writes the label plane.
Volume stack_to_volume(const SliceStack& s, const Volume& native, const PreprocessParams& p, bool label);

}  // namespace cs
