#pragma once
// N4 bias-field correction (docs/method.md §6.2 step 1), as the paper ran it: SimpleITK's
// N4BiasFieldCorrectionImageFilter on the image cast to float32, no mask, the parameters below.
// The correction runs ITK's own filter (io/datasets/itk/), so a build without ITK
// (CONTRASEG_WITH_ITK=OFF) has n4_available() false and n4_bias_correct throws, saying so.
#include <string>
#include <vector>

#include "io/volume.h"

namespace cs {

// Defaults: the paper's values (convergence threshold 0.001, 4 fitting levels of 50 iterations)
// and, for the rest, ITK's and SimpleITK's defaults. The image is never shrunk: the bias field is
// fitted to every voxel at full resolution.
struct N4Params {
  double convergence_threshold = 0.001;
  std::vector<int> iterations = {50, 50, 50, 50};  // one entry per fitting level
  int spline_order = 3;
  int control_points = 4;  // per axis (a B-spline mesh of control_points - spline_order per axis)
  int histogram_bins = 200;
  double fwhm = 0.15;  // of the Gaussian that models the bias in the log-intensity histogram
  double wiener_noise = 0.01;

  // Every value, as one line: what the cache key covers.
  std::string text() const;
};

// Whether this build can correct (it has ITK).
bool n4_available();
// Throws std::runtime_error when it cannot: what asked for N4 (`who`), that the build has no ITK
// and the ways out. For the checks before any work.
void require_n4(const std::string& who);
// The ITK version this build runs ("5.2.1"), "" without ITK.
std::string n4_itk_version();

// The corrected volume: float32 with v's dims and header geometry. `what` names v in errors.
// Throws std::invalid_argument on an empty volume, a non-finite voxel or bad parameters, and
// std::runtime_error when ITK fails or the build has no ITK.
//
// Voxels <= 0: ITK (5.2 and later alike) takes the log of the positive voxels only and leaves the
// others at their raw value, which then enters the histogram and the fit as if it were a
// log-intensity (0 counts as intensity 1, -3 as e^-3). Without a mask every voxel is fitted.
// SimpleITK passes no mask when none is given, so it does exactly this on the same input; so
// does this function: the volume goes to ITK unchanged, with no mask, no clipping and no shift.
// The output is input / exp(bias) everywhere, so 0 stays 0 and negative values stay negative.
//
// ITK splits the B-spline fit's sums over its threads (ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS, all
// cores by default): the result is deterministic for one thread count and differs by ~1e-5 of
// the maximum intensity between counts.
Volume n4_bias_correct(const Volume& v, const N4Params& p = {}, const std::string& what = "volume");

// Where ITK sees the volume: spacing, origin and direction cosines in ITK's LPS world, derived
// from the NIfTI voxel-to-world matrix as ITK's NIfTI reader would (sform, else qform, else the
// voxel size; x and y negated from RAS). Directions whose columns are not orthonormal (a sheared
// sform) become the identity: N4 fits its B-spline in an identity-direction frame anyway, so the
// direction never changes the result.
struct N4Grid {
  int size[3] = {0, 0, 0};
  double spacing[3] = {1, 1, 1};
  double origin[3] = {0, 0, 0};
  double direction[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};  // [row][column], column j = axis j
};
N4Grid n4_grid(const Volume& v);

}  // namespace cs
