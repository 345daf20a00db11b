#include "io/datasets/n4.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "io/datasets/datasets.h"
#if CONTRASEG_WITH_ITK
#include "io/datasets/itk/n4_itk.h"
#endif

namespace cs {

std::string N4Params::text() const {
  std::string its;
  for (int n : iterations) its += (its.empty() ? "" : "x") + std::to_string(n);
  // {:.17g}: the exact double, so that two parameter sets share a text only when equal
  return fmt::format("n4 threshold {:.17g} iterations {} spline_order {} control_points {} bins {} fwhm {:.17g} "
                     "wiener {:.17g} shrink 1 mask none",
                     convergence_threshold, its, spline_order, control_points, histogram_bins, fwhm, wiener_noise);
}

bool n4_available() {
#if CONTRASEG_WITH_ITK
  return true;
#else
  return false;
#endif
}

std::string n4_itk_version() {
#if CONTRASEG_WITH_ITK
  return itk_version();
#else
  return "";
#endif
}

void require_n4(const std::string& who) {
  if (n4_available()) return;
  throw std::runtime_error(
      who + ": N4 bias-field correction needs ITK, and this build has none (CONTRASEG_WITH_ITK=OFF). Install it "
            "(scripts/install-deps.sh) and configure with -DCONTRASEG_WITH_ITK=ON, or correct the volumes "
            "beforehand with ITK/SimpleITK's N4BiasFieldCorrectionImageFilter (convergence threshold 0.001, 4 "
            "levels of 50 iterations, docs/method.md §6.2) and run without N4.");
}

N4Grid n4_grid(const Volume& v) {
  N4Grid g;
  g.size[0] = v.nx;
  g.size[1] = v.ny;
  g.size[2] = v.nz;
  g.spacing[0] = v.dx;
  g.spacing[1] = v.dy;
  g.spacing[2] = v.dz;
  double m[4][4];
  volume_affine(v, m);
  // NIfTI's world is RAS, ITK's LPS: x and y change sign.
  const double flip[3] = {-1, -1, 1};
  double cols[3][3];
  bool orthonormal = true;
  for (int j = 0; j < 3; ++j) {
    const double len = std::sqrt(m[0][j] * m[0][j] + m[1][j] * m[1][j] + m[2][j] * m[2][j]);
    if (!(len > 0)) orthonormal = false;
    for (int i = 0; i < 3; ++i) cols[j][i] = len > 0 ? flip[i] * m[i][j] / len : 0;
  }
  for (int a = 0; a < 3 && orthonormal; ++a)
    for (int b = a + 1; b < 3; ++b) {
      const double dot = cols[a][0] * cols[b][0] + cols[a][1] * cols[b][1] + cols[a][2] * cols[b][2];
      if (std::fabs(dot) > 1e-4) orthonormal = false;
    }
  for (int i = 0; i < 3; ++i) {
    g.origin[i] = flip[i] * m[i][3];
    for (int j = 0; j < 3; ++j) g.direction[i][j] = orthonormal ? cols[j][i] : (i == j ? 1.0 : 0.0);
  }
  return g;
}

namespace {

void check_params(const N4Params& p, const std::string& what) {
  auto bad = [&](const std::string& problem) {
    return std::invalid_argument(what + ": N4 parameters: " + problem);
  };
  if (!(p.convergence_threshold >= 0) || !std::isfinite(p.convergence_threshold))
    throw bad("convergence threshold " + std::to_string(p.convergence_threshold) + " is not a number >= 0");
  if (p.iterations.empty()) throw bad("no fitting level (iterations is empty)");
  for (int n : p.iterations)
    if (n < 1) throw bad("a fitting level of " + std::to_string(n) + " iterations (at least 1)");
  if (p.spline_order < 1 || p.spline_order > 10) throw bad("spline order " + std::to_string(p.spline_order));
  if (p.control_points <= p.spline_order)
    throw bad(fmt::format("{} control points per axis need to exceed the spline order {}", p.control_points,
                          p.spline_order));
  if (p.histogram_bins < 2) throw bad("histogram bins " + std::to_string(p.histogram_bins) + " (at least 2)");
  if (!(p.fwhm > 0) || !std::isfinite(p.fwhm)) throw bad("FWHM " + std::to_string(p.fwhm) + " is not > 0");
  if (!(p.wiener_noise >= 0) || !std::isfinite(p.wiener_noise))
    throw bad("Wiener noise " + std::to_string(p.wiener_noise) + " is not >= 0");
}

}  // namespace

Volume n4_bias_correct(const Volume& v, const N4Params& p, const std::string& what) {
  if (v.nx <= 0 || v.ny <= 0 || v.nz <= 0 || v.data.size() != v.size())
    throw std::invalid_argument(fmt::format("{}: N4 needs a non-empty volume, not {}x{}x{} with {} values", what,
                                            v.nx, v.ny, v.nz, v.data.size()));
  for (size_t i = 0; i < v.data.size(); ++i)
    if (!std::isfinite(v.data[i]))
      throw std::invalid_argument(fmt::format("{}: voxel ({}, {}, {}) is {}; N4 needs finite values", what,
                                              i % v.nx, i / v.nx % v.ny, i / v.nx / v.ny, v.data[i]));
  check_params(p, what);
  require_n4(what);
#if CONTRASEG_WITH_ITK
  std::vector<float> out;
  try {
    out = itk_n4_correct(v.data.data(), n4_grid(v), p);
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": " + e.what());
  }
  // A constant volume gives a histogram of zero width, and N4 divides by it.
  for (float x : out)
    if (!std::isfinite(x))
      throw std::runtime_error(what + ": N4 gave non-finite values (is the volume constant?)");
  Volume c = same_geometry(v, std::move(out));
  c.datatype = 16;  // float32, as SimpleITK's output
  c.scl_slope = c.scl_inter = 0;
  return c;
#else
  return v;
#endif
}

}  // namespace cs
