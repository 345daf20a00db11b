// N4 bias-field correction (io/datasets/n4.h) and its cache (io/datasets/n4_cache.h) on phantoms
// whose bias field is known. Without ITK only the errors are checked.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "io/datasets/n4.h"
#include "io/datasets/n4_cache.h"
#include "io/formats/nifti.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using testing_io::TempDir;

// A 48x48x12 phantom at 1.5 x 1.5 x 8 mm: a body (class 1, 100) holding an ellipsoid (class 2,
// 160) holding a sphere (class 3, 240), with 0.5% Gaussian noise. `label` gets the classes.
Volume phantom(Volume* label, int nx = 48, int ny = 48, int nz = 12, uint32_t seed = 7) {
  Volume v = make_volume(nx, ny, nz, 1.5f, 1.5f, 8.f);
  v.qoffset_x = v.qto_xyz[0][3] = v.sto_xyz[0][3] = -40;
  v.qoffset_y = v.qto_xyz[1][3] = v.sto_xyz[1][3] = 12;
  v.qoffset_z = v.qto_xyz[2][3] = v.sto_xyz[2][3] = 5;
  *label = v;
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  const float value[4] = {0, 100, 160, 240};
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const double u = (x + 0.5) / nx - 0.5, w = (y + 0.5) / ny - 0.5, t = (z + 0.5) / nz - 0.5;
        int c = 1;
        if (u * u / 0.09 + w * w / 0.05 + t * t / 0.2 < 1) c = 2;
        if ((u - 0.05) * (u - 0.05) + w * w + 0.2 * t * t < 0.012) c = 3;
        label->at(x, y, z) = static_cast<float>(c);
        v.at(x, y, z) = value[c] * (1.f + 0.005f * noise(rng));
      }
  return v;
}

// exp of a low-order polynomial over the volume: a smooth multiplicative field with a max/min
// ratio of about 1.8.
std::vector<float> smooth_field(const Volume& v) {
  std::vector<float> f(v.size());
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < v.ny; ++y)
      for (int x = 0; x < v.nx; ++x) {
        const double u = (x + 0.5) / v.nx - 0.5, w = (y + 0.5) / v.ny - 0.5, t = (z + 0.5) / v.nz - 0.5;
        f[v.index(x, y, z)] = static_cast<float>(std::exp(0.28 * u - 0.2 * w + 0.48 * u * w + 0.4 * w * w + 0.12 * t));
      }
  return f;
}

// Coefficient of variation (std / mean) of v over the voxels of class c.
double tissue_cv(const Volume& v, const Volume& label, int c) {
  double s = 0, s2 = 0;
  size_t n = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (label.data[i] == static_cast<float>(c)) {
      s += v.data[i];
      s2 += static_cast<double>(v.data[i]) * v.data[i];
      ++n;
    }
  const double mean = s / n;
  return std::sqrt(std::max(0.0, s2 / n - mean * mean)) / mean;
}

bool same_geometry_as(const Volume& a, const Volume& b) {
  if (a.nx != b.nx || a.ny != b.ny || a.nz != b.nz || a.dx != b.dx || a.dy != b.dy || a.dz != b.dz) return false;
  if (a.qform_code != b.qform_code || a.sform_code != b.sform_code || a.qfac != b.qfac) return false;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      if (a.sto_xyz[r][c] != b.sto_xyz[r][c] || a.qto_xyz[r][c] != b.qto_xyz[r][c]) return false;
  return true;
}

#define REQUIRE_ITK() \
  if (!n4_available()) GTEST_SKIP() << "this build has no ITK (CONTRASEG_WITH_ITK=OFF)"

TEST(N4, RemovesAKnownSmoothField) {
  REQUIRE_ITK();
  Volume label;
  const Volume clean = phantom(&label);
  const auto field = smooth_field(clean);
  Volume biased = clean;
  float lo = 1e9f, hi = 0;
  for (size_t i = 0; i < biased.size(); ++i) {
    biased.data[i] *= field[i];
    lo = std::min(lo, field[i]);
    hi = std::max(hi, field[i]);
  }
  ASSERT_GT(hi / lo, 1.5f);
  ASSERT_LT(hi / lo, 2.0f);
  const Volume corrected = n4_bias_correct(biased, {}, "phantom");
  EXPECT_TRUE(same_geometry_as(corrected, biased));
  EXPECT_EQ(corrected.datatype, 16);
  ASSERT_EQ(corrected.data.size(), biased.size());  // full resolution
  // Within each tissue the field spreads the intensities; the correction takes it back to the
  // noise. Measured on ITK 5.2.1: CV 0.119 / 0.052 / 0.022 -> 0.0051 / 0.0050 / 0.0052 (23x, 10x,
  // 4.2x; the noise alone gives 0.0050 / 0.0049 / 0.0048). Asserted: about half of each factor
  // (the small central sphere sees little of the field), and at most 1.25x the noise.
  const double factor[4] = {0, 10, 5, 2};
  for (int c = 1; c <= 3; ++c) {
    const double before = tissue_cv(biased, label, c), after = tissue_cv(corrected, label, c);
    EXPECT_GT(before / after, factor[c]) << "class " << c << ": CV " << before << " -> " << after;
    EXPECT_LT(after, 1.25 * tissue_cv(clean, label, c)) << "class " << c;
  }
}

TEST(N4, LeavesAnUnbiasedVolumeAlmostUnchanged) {
  REQUIRE_ITK();
  Volume label;
  const Volume clean = phantom(&label);
  const Volume corrected = n4_bias_correct(clean);
  // Up to a global scale (N4 does not fix the mean), the ratio corrected / input is flat.
  double s = 0, s2 = 0;
  for (size_t i = 0; i < clean.size(); ++i) {
    const double r = corrected.data[i] / clean.data[i];
    s += r;
    s2 += r * r;
  }
  const double mean = s / clean.size(), cv = std::sqrt(std::max(0.0, s2 / clean.size() - mean * mean)) / mean;
  // Measured: a ratio CV of 0.0007. Asserted: below 0.005 (the biased phantom above has 0.12).
  EXPECT_LT(cv, 0.005);
  for (int c = 1; c <= 3; ++c) EXPECT_LT(tissue_cv(corrected, label, c), 1.5 * tissue_cv(clean, label, c));
}

// Voxels <= 0 go to ITK unchanged (n4.h): the output is input / exp(bias), so zeros stay zero and
// negative values keep their sign.
TEST(N4, ZeroAndNegativeVoxelsKeepTheirSign) {
  REQUIRE_ITK();
  Volume label;
  Volume v = phantom(&label, 32, 32, 8);
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < v.nx; ++x) v.at(x, y, z) = (x % 3 == 0) ? -2.f : 0.f;
  N4Params quick;
  quick.iterations = {10, 10};
  const Volume c = n4_bias_correct(v, quick);
  for (int z = 0; z < v.nz; ++z)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < v.nx; ++x) {
        if (x % 3 == 0)
          EXPECT_LT(c.at(x, y, z), 0.f);
        else
          EXPECT_EQ(c.at(x, y, z), 0.f);
      }
}

TEST(N4, BadInputIsNamed) {
  auto message = [](const Volume& v, const N4Params& p) -> std::string {
    try {
      n4_bias_correct(v, p, "case 042");
    } catch (const std::invalid_argument& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
    return "no error";
  };
  Volume empty;
  EXPECT_TRUE(testing_io::contains(message(empty, {}), "case 042: N4 needs a non-empty volume")) << message(empty, {});
  Volume v = make_volume(8, 8, 4);
  for (size_t i = 0; i < v.size(); ++i) v.data[i] = 1.f + static_cast<float>(i % 7);
  Volume nan = v;
  nan.at(3, 2, 1) = std::nanf("");
  EXPECT_TRUE(testing_io::contains(message(nan, {}), "case 042: voxel (3, 2, 1) is nan")) << message(nan, {});
  Volume short_data = v;
  short_data.data.pop_back();
  EXPECT_TRUE(testing_io::contains(message(short_data, {}), "non-empty volume")) << message(short_data, {});
  N4Params p;
  p.iterations.clear();
  EXPECT_TRUE(testing_io::contains(message(v, p), "case 042: N4 parameters: no fitting level"));
  p = {};
  p.control_points = 3;
  EXPECT_TRUE(testing_io::contains(message(v, p), "control points"));
  if (!n4_available()) {
    try {
      n4_bias_correct(v);
      FAIL() << "no error without ITK";
    } catch (const std::runtime_error& e) {
      EXPECT_TRUE(testing_io::contains(e.what(), "ITK")) << e.what();
      EXPECT_TRUE(testing_io::contains(e.what(), "CONTRASEG_WITH_ITK")) << e.what();
    }
  }
}

TEST(N4, GridIsInItksLpsWorld) {
  Volume v = make_volume(10, 12, 5, 1.5f, 2.f, 8.f);
  v.sto_xyz[0][3] = 10;
  v.sto_xyz[1][3] = -20;
  v.sto_xyz[2][3] = 30;
  const N4Grid g = n4_grid(v);
  EXPECT_EQ(g.size[1], 12);
  EXPECT_DOUBLE_EQ(g.spacing[2], 8.0);
  EXPECT_DOUBLE_EQ(g.origin[0], -10.0);
  EXPECT_DOUBLE_EQ(g.origin[1], 20.0);
  EXPECT_DOUBLE_EQ(g.origin[2], 30.0);
  EXPECT_DOUBLE_EQ(g.direction[0][0], -1.0);
  EXPECT_DOUBLE_EQ(g.direction[1][1], -1.0);
  EXPECT_DOUBLE_EQ(g.direction[2][2], 1.0);
  v.sto_xyz[0][1] = 0.5;  // a shear: no rotation matrix, so the identity
  const N4Grid sheared = n4_grid(v);
  EXPECT_DOUBLE_EQ(sheared.direction[0][0], 1.0);
  EXPECT_DOUBLE_EQ(sheared.direction[0][1], 0.0);
}

// A small phantom written as a NIfTI source file, and quick parameters: the cache's behaviour does
// not depend on how well N4 converges.
struct CacheFixture {
  TempDir t;
  std::string source = t / "src/case.nii.gz", cache = t / "cache";
  Volume image;
  N4CacheRequest req;
  std::vector<std::string> notes;
  CacheFixture() {
    Volume label;
    image = phantom(&label, 24, 24, 6);
    std::filesystem::create_directories(t / "src");
    write_nifti_image(source, image);
    image = read_nifti(source);
    req.source_file = source;
    req.dir = cache;
    req.what = "case X";
    req.params.iterations = {3, 3};
  }
  Volume get(N4CacheOutcome* how) {
    return n4_cached(image, req, [this](const std::string& l) { notes.push_back(l); }, how);
  }
  std::string entry() const { return cache + "/" + n4_cache_key(source, 0, req.params) + ".nii.gz"; }
};

TEST(N4Cache, SecondCallReadsTheEntry) {
  REQUIRE_ITK();
  CacheFixture f;
  N4CacheOutcome how{};
  const Volume first = f.get(&how);
  EXPECT_EQ(how, N4CacheOutcome::Computed);
  ASSERT_TRUE(std::filesystem::exists(f.entry()));
  ASSERT_EQ(f.notes.size(), 2u);  // before and after the computation
  EXPECT_TRUE(testing_io::contains(f.notes[0], "N4 case X: correcting 24x24x6")) << f.notes[0];
  const auto stamp = testing_io::files_of(f.cache);
  const Volume second = f.get(&how);
  EXPECT_EQ(how, N4CacheOutcome::Read);
  EXPECT_EQ(f.notes.size(), 2u);  // nothing computed, nothing said
  EXPECT_EQ(testing_io::files_of(f.cache), stamp);  // not rewritten
  EXPECT_EQ(second.data, first.data);
  EXPECT_TRUE(same_geometry_as(second, f.image));
  EXPECT_EQ(second.descrip, f.image.descrip);  // the source's header, not the entry's
  EXPECT_EQ(first.data, n4_bias_correct(f.image, f.req.params).data);
}

TEST(N4Cache, DamagedOrMismatchedEntriesAreRecomputed) {
  REQUIRE_ITK();
  CacheFixture f;
  N4CacheOutcome how{};
  const Volume good = f.get(&how);
  // a truncated file
  auto bytes = testing_io::read_bytes(f.entry());
  bytes.resize(bytes.size() / 2);
  testing_io::write_bytes(f.entry(), bytes);
  f.notes.clear();
  EXPECT_EQ(f.get(&how).data, good.data);
  EXPECT_EQ(how, N4CacheOutcome::Recomputed);
  ASSERT_FALSE(f.notes.empty());
  EXPECT_TRUE(testing_io::contains(f.notes[0], "is unreadable")) << f.notes[0];
  // a readable entry of other dims under the right key
  Volume other = make_volume(4, 4, 4);
  other.descrip = "contraseg N4 " + n4_cache_key(f.source, 0, f.req.params);
  write_nifti_image(f.entry(), other);
  f.notes.clear();
  EXPECT_EQ(f.get(&how).data, good.data);
  EXPECT_EQ(how, N4CacheOutcome::Recomputed);
  EXPECT_TRUE(testing_io::contains(f.notes[0], "4x4x4, not the source's 24x24x6")) << f.notes[0];
  // an entry of another key copied over this one
  Volume foreign = good;
  foreign.descrip = "contraseg N4 0123";
  write_nifti_image(f.entry(), foreign);
  f.notes.clear();
  f.get(&how);
  EXPECT_EQ(how, N4CacheOutcome::Recomputed);
  EXPECT_TRUE(testing_io::contains(f.notes[0], "another key")) << f.notes[0];
  f.get(&how);
  EXPECT_EQ(how, N4CacheOutcome::Read);
}

TEST(N4Cache, KeyCoversTheSourceChannelAndParameters) {
  CacheFixture f;
  const std::string key = n4_cache_key(f.source, 0, f.req.params);
  EXPECT_EQ(key.size(), 24u);
  EXPECT_EQ(n4_cache_key(f.source, 0, f.req.params), key);
  EXPECT_NE(n4_cache_key(f.source, 1, f.req.params), key);
  N4Params p = f.req.params;
  p.convergence_threshold = 0.0011;
  EXPECT_NE(n4_cache_key(f.source, 0, p), key);
  p = f.req.params;
  p.iterations = {3, 3, 3};
  EXPECT_NE(n4_cache_key(f.source, 0, p), key);
  Volume changed = f.image;
  changed.data[5] += 1.f;  // one voxel of another source
  write_nifti_image(f.t / "src/other.nii.gz", changed);
  EXPECT_NE(n4_cache_key(f.t / "src/other.nii.gz", 0, f.req.params), key);
  EXPECT_THROW(n4_cache_key(f.t / "missing.nii.gz", 0, f.req.params), std::runtime_error);
}

TEST(N4Cache, DefaultFolderFollowsXdg) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string saved_xdg = xdg ? xdg : "", saved_home = home ? home : "";
  ::setenv("XDG_CACHE_HOME", "/x/cache", 1);
  EXPECT_EQ(default_n4_cache_dir(), "/x/cache/contraseg/n4");
  ::setenv("XDG_CACHE_HOME", "relative", 1);  // not absolute: ignored, as the XDG spec says
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_n4_cache_dir(), "/home/u/.cache/contraseg/n4");
  ::unsetenv("XDG_CACHE_HOME");
  ::unsetenv("HOME");
  EXPECT_THROW(default_n4_cache_dir(), std::runtime_error);
  if (xdg) ::setenv("XDG_CACHE_HOME", saved_xdg.c_str(), 1);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace cs
