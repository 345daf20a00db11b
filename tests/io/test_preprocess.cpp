// Preprocessing (docs/method.md §6.2) and its inverse (§7.1) against numpy / scikit-image values
// generated once by scripts/make_nifti_fixtures.py, plus properties that need no fixture.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "support/io_test_util.h"
#include "io/formats/nifti.h"
#include "io/datasets/preprocess.h"

namespace cs {
namespace {

using testing_io::fixture;

struct FixtureCase {
  Volume image, label;
  PreprocessParams p;
  nlohmann::json j;
};

std::vector<FixtureCase> fixture_cases() {
  const auto all = testing_io::load_json(fixture("preprocess_expected.json"));
  std::vector<FixtureCase> out;
  for (const auto& j : all["cases"]) {
    FixtureCase c;
    c.j = j;
    const int nx = j["nx"], ny = j["ny"], nz = j["nz"];
    c.image = make_volume(nx, ny, nz, j["dx"].get<float>(), j["dy"].get<float>(), 5.f);
    c.image.data = j["image"].get<std::vector<float>>();
    c.label = c.image;
    c.label.data = j["label"].get<std::vector<float>>();
    c.p.target_dx = c.p.target_dy = j["target"].get<double>();
    c.p.out_h = j["out_h"];
    c.p.out_w = j["out_w"];
    c.p.num_classes = j["classes"];
    out.push_back(std::move(c));
  }
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << what << " at " << i;
}

TEST(Preprocess, PercentilesMatchNumpy) {
  for (const auto& c : fixture_cases()) {
    EXPECT_NEAR(percentile(c.image.data, 1), c.j["p1"].get<double>(), 1e-4);
    EXPECT_NEAR(percentile(c.image.data, 99), c.j["p99"].get<double>(), 1e-4);
  }
  // small exact cases of numpy's linear method
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile({10}, 99), 10);
  EXPECT_NEAR(percentile({0, 10, 20, 30, 40}, 1), 0.4, 1e-12);
  EXPECT_NEAR(percentile({0, 10, 20, 30, 40}, 99), 39.6, 1e-12);
  EXPECT_THROW(percentile({}, 50), std::invalid_argument);
}

TEST(Preprocess, NormalisationDoesNotClip) {
  for (const auto& c : fixture_cases()) {
    Volume v = c.image;
    normalize_percentile(v);
    const double p1 = c.j["p1"], p99 = c.j["p99"];
    for (size_t i = 0; i < v.data.size(); ++i)
      ASSERT_NEAR(v.data[i], (c.image.data[i] - p1) / (p99 - p1), 1e-5);
    // the fixture's outlier (5000 at voxel 0) stays far above 1
    EXPECT_GT(v.data[0], 5.f);
  }
  Volume flat = make_volume(3, 3, 1);
  EXPECT_THROW(normalize_percentile(flat), std::runtime_error);
}

TEST(Preprocess, RescaleMatchesScikitImage) {
  for (const auto& c : fixture_cases()) {
    const SliceGeometry g = slice_geometry(c.image, c.p);
    EXPECT_EQ(g.rx, c.j["rescaled_shape"][0].get<int>());
    EXPECT_EQ(g.ry, c.j["rescaled_shape"][1].get<int>());
    Volume v = c.image;
    normalize_percentile(v);
    std::vector<float> img, lab;
    for (int z = 0; z < g.nz; ++z) {
      const auto s = volume_slice(v, z);
      const auto r = resize_linear(s.data(), g.nx, g.ny, 1, g.rx, g.ry);
      img.insert(img.end(), r.begin(), r.end());
      const auto l = volume_slice(c.label, z);
      const auto rl = resize_nearest(l.data(), g.nx, g.ny, 1, g.rx, g.ry);
      lab.insert(lab.end(), rl.begin(), rl.end());
    }
    expect_close(img, c.j["rescaled_image"].get<std::vector<double>>(), 2e-5, "rescaled image");
    expect_close(lab, c.j["rescaled_label"].get<std::vector<double>>(), 0, "rescaled label");
  }
}

TEST(Preprocess, FullForwardPathMatchesFixture) {
  for (const auto& c : fixture_cases()) {
    const SliceStack s = preprocess_volume(c.image, &c.label, c.p, "fixture");
    EXPECT_EQ(s.z, c.j["nz"].get<int>());
    EXPECT_EQ(s.h, c.p.out_h);
    EXPECT_EQ(s.w, c.p.out_w);
    expect_close(s.image, c.j["cropped_image"].get<std::vector<double>>(), 2e-5, "cropped image");
    const std::vector<float> lab(s.label.begin(), s.label.end());
    expect_close(lab, c.j["cropped_label"].get<std::vector<double>>(), 0, "cropped label");
  }
}

TEST(Preprocess, InverseMatchesFixture) {
  for (const auto& c : fixture_cases()) {
    const auto prob = c.j["prob"].get<std::vector<float>>();
    const Volume out = probabilities_to_labels(prob, c.p.num_classes, c.image, c.p);
    EXPECT_EQ(out.nx, c.image.nx);
    EXPECT_EQ(out.nz, c.image.nz);
    const auto want = c.j["inverse_label"].get<std::vector<double>>();
    size_t diff = 0;
    for (size_t i = 0; i < want.size(); ++i) diff += out.data[i] != static_cast<float>(want[i]);
    EXPECT_EQ(diff, 0u);
  }
}

TEST(Preprocess, CropPadOffsets) {
  // 5x6 -> 3x8: rows cropped from (5-3)/2 = 1, columns padded at (8-6)/2 = 1
  std::vector<float> a(30);
  std::iota(a.begin(), a.end(), 1.f);
  const auto b = crop_or_pad(a.data(), 5, 6, 1, 3, 8);
  ASSERT_EQ(b.size(), 24u);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 8; ++c) {
      const float want = (c >= 1 && c <= 6) ? a[(r + 1) * 6 + (c - 1)] : 0.f;
      EXPECT_EQ(b[r * 8 + c], want) << r << "," << c;
    }
  // odd differences: 6 -> 3 crops from 1 ((6-3)//2), 3 -> 6 pads at 1
  const auto c = crop_or_pad(a.data(), 5, 6, 1, 5, 3);
  EXPECT_EQ(c[0], a[1]);
  // uncrop puts back what was kept and zeros the rest
  const auto u = uncrop(b.data(), 3, 8, 1, 5, 6);
  for (int r = 0; r < 5; ++r)
    for (int q = 0; q < 6; ++q) EXPECT_EQ(u[r * 6 + q], (r >= 1 && r <= 3) ? a[r * 6 + q] : 0.f);
}

TEST(Preprocess, RescaledSizeRoundsHalfToEven) {
  EXPECT_EQ(rescaled_size(5, 0.5), 2);   // 2.5 -> 2, as numpy.round
  EXPECT_EQ(rescaled_size(7, 0.5), 4);   // 3.5 -> 4
  EXPECT_EQ(rescaled_size(1, 0.1), 1);   // never below 1
  EXPECT_EQ(rescaled_size(216, 1.5625 / 1.36719), 247);
  EXPECT_THROW(rescaled_size(10, 0), std::invalid_argument);
}

TEST(Preprocess, LinearResizeKeepsConstantsAndIdentity) {
  std::vector<float> a(6 * 7);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 2);
  for (float& x : a) x = u(rng);
  EXPECT_EQ(resize_linear(a.data(), 6, 7, 1, 6, 7), a);  // same size: identity
  // a constant 2 image up-sampled: borders blend towards the constant 0, then the clip to the
  // input range [2, 2] restores 2 everywhere (scikit-image behaviour)
  std::vector<float> two(12, 2.f);
  for (float x : resize_linear(two.data(), 3, 4, 1, 7, 9)) EXPECT_FLOAT_EQ(x, 2.f);
}

TEST(Preprocess, LabelRoundTripThroughProbabilities) {
  // a label map pushed forward (nearest) as one-hot probabilities and back (linear + argmax) is
  // recovered exactly where the resolution allows: same resolution and no crop.
  const int nx = 20, ny = 17, nz = 2, C = 4;
  Volume lab = make_volume(nx, ny, nz, 1.f, 1.f, 3.f);
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) lab.at(x, y, z) = static_cast<float>(((x / 5) + (y / 6) + z) % C);
  Volume img = lab;
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] += 0.01f * static_cast<float>(i % 7);
  auto push_back = [&](const PreprocessParams& p) {
    const SliceStack s = preprocess_volume(img, &lab, p);
    std::vector<float> prob(s.label.size() * C, 0.f);
    for (size_t i = 0; i < s.label.size(); ++i) prob[i * C + s.label[i]] = 1.f;
    return probabilities_to_labels(prob, C, lab, p);
  };
  PreprocessParams same;
  same.target_dx = same.target_dy = 1.0;
  same.out_h = 24;  // padded, not cropped
  same.out_w = 17;
  same.num_classes = C;
  EXPECT_EQ(push_back(same).data, lab.data);
  // twice finer: every native pixel is covered by 2x2 target pixels of its class, so linear
  // interpolation back lands on the right class everywhere
  PreprocessParams fine = same;
  fine.target_dx = fine.target_dy = 0.5;
  fine.out_h = 48;
  fine.out_w = 40;
  EXPECT_EQ(push_back(fine).data, lab.data);
  // cropping loses the border: those pixels come back as class 0, the centre is kept
  PreprocessParams crop = same;
  crop.out_h = 10;
  const Volume back = push_back(crop);
  for (int y = 0; y < ny; ++y)
    for (int x = 0; x < nx; ++x) {
      const bool kept = x >= 5 && x < 15;
      EXPECT_EQ(back.at(x, y, 0), kept ? lab.at(x, y, 0) : 0.f) << x << "," << y;
    }
}

TEST(Preprocess, AxisConvention) {
  // rows follow NIfTI x, columns NIfTI y
  Volume v = make_volume(3, 2, 1);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) v.at(x, y, 0) = static_cast<float>(10 * x + y);
  const auto s = volume_slice(v, 0);
  EXPECT_EQ(s, (std::vector<float>{0, 1, 10, 11, 20, 21}));
}

TEST(Preprocess, StackToVolumeKeepsWorldPositions) {
  testing_io::TempDir tmp;
  Volume img = testing_io::pattern_volume(30, 24, 2, 1.5f, 1.2f, 6.f);
  Volume lab = img;
  for (float& x : lab.data) x = std::fmod(x, 3.f);
  PreprocessParams p;
  p.target_dx = p.target_dy = 1.0;
  p.out_h = 40;  // 45 rescaled rows: cropped
  p.out_w = 32;  // 29 rescaled columns: padded
  const SliceStack s = preprocess_volume(img, &lab, p);
  const Volume vi = stack_to_volume(s, img, p, false), vl = stack_to_volume(s, img, p, true);
  EXPECT_EQ(vi.nx, 40);
  EXPECT_EQ(vi.ny, 32);
  EXPECT_EQ(vl.at(7, 9, 1), static_cast<float>(s.label[(1 * 40 + 7) * 32 + 9]));
  EXPECT_EQ(vi.at(7, 9, 1), s.image[(1 * 40 + 7) * 32 + 9]);
  EXPECT_NEAR(vi.dx, 1.5 * 30 / 45, 1e-6);
  // output voxel (i, j) lies at native index ((i + 2 + 0.5) * 30/45 - 0.5, (j - 1 + 0.5) * 24/29 - 0.5)
  const int i = 11, j = 6;
  const double xn = (i + 2 + 0.5) * 30.0 / 45 - 0.5, yn = (j - 1 + 0.5) * 24.0 / 29 - 0.5;
  for (int r = 0; r < 3; ++r) {
    const double want = img.sto_xyz[r][0] * xn + img.sto_xyz[r][1] * yn + img.sto_xyz[r][2] * 1 + img.sto_xyz[r][3];
    const double got = vi.sto_xyz[r][0] * i + vi.sto_xyz[r][1] * j + vi.sto_xyz[r][2] * 1 + vi.sto_xyz[r][3];
    EXPECT_NEAR(got, want, 1e-9) << r;
  }
  // and the written files read back with that geometry
  write_nifti_image(tmp / "img.nii.gz", vi);
  write_nifti_label(tmp / "lab.nii.gz", vl);
  const Volume ri = read_nifti(tmp / "img.nii.gz");
  EXPECT_NEAR(ri.qto_xyz[0][3], vi.qto_xyz[0][3], 1e-4);
  EXPECT_NEAR(ri.sto_xyz[1][3], vi.sto_xyz[1][3], 1e-4);
  EXPECT_EQ(read_nifti(tmp / "lab.nii.gz").data, vl.data);
}

TEST(Preprocess, ErrorsAndDatasetConstants) {
  EXPECT_EQ(dataset_params("mmwhs").out_h, 160);
  EXPECT_DOUBLE_EQ(dataset_params("acdc").target_dx, 1.36719);
  EXPECT_EQ(dataset_params("prostate").num_classes, 3);
  EXPECT_THROW(dataset_params("brats"), std::invalid_argument);
  Volume img = make_volume(4, 4, 1);
  img.data[3] = 1.f;
  img.data[5] = 2.f;
  Volume bad = img;
  bad.data[0] = 1.5f;  // not a class index
  EXPECT_THROW(preprocess_volume(img, &bad, dataset_params("acdc")), std::invalid_argument);
  Volume other = make_volume(4, 3, 1);
  EXPECT_THROW(preprocess_volume(img, &other, dataset_params("acdc")), std::invalid_argument);
  EXPECT_THROW(probabilities_to_labels(std::vector<float>(5), 4, img, dataset_params("acdc")), std::invalid_argument);
}

}  // namespace
}  // namespace cs
