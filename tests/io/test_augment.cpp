// Augmentation invariants (docs/method.md §2.8, §3.2, §4.4): identities, bounds, mode coupling, soft labels.
// Rendering a contrastive batch from these primitives: tests/experiments/test_batches.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/augmentation/augment.h"
#include "support/range_test_util.h"

namespace cs {
namespace {

using testing_range::in_range;

std::vector<float> random_image(int h, int w, Rng& rng, float lo = 0.f, float hi = 1.f) {
  std::vector<float> v(static_cast<size_t>(h) * w);
  for (auto& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return v;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(Augment, IdentityParametersGiveTheIdentity) {
  Rng rng(1);
  const int h = 17, w = 23;
  auto img = random_image(h, w, rng);
  std::vector<float> out(img.size());
  crop_resize(img.data(), h, w, CropWindow{0, 0, h, w}, out.data());
  EXPECT_LT(max_diff(out, img), 1e-6);
  rotate(img.data(), h, w, 0.0, 1, out.data());
  EXPECT_LT(max_diff(out, img), 1e-6);
  rotate(img.data(), h, w, 360.0, 0, out.data());
  EXPECT_LT(max_diff(out, img), 1e-6);
  rescale_crop_pad(img.data(), h, w, 1.0, 1, out.data());
  EXPECT_LT(max_diff(out, img), 1e-6);
  std::vector<float> flow(2 * img.size(), 0.f);
  dense_warp(img.data(), h, w, 1, flow.data(), out.data());
  EXPECT_LT(max_diff(out, img), 1e-6);
  out = img;
  apply_intensity(out.data(), static_cast<int>(out.size()), Intensity{0.f, 1.f});
  EXPECT_LT(max_diff(out, img), 1e-6);
  out = img;
  flip_lr(out.data(), h, w);
  EXPECT_GT(max_diff(out, img), 0.01);
  flip_lr(out.data(), h, w);
  EXPECT_EQ(out, img);
  // A rotation by 90 degrees of a square image moves pixels exactly; four of them are the identity.
  auto sq = random_image(9, 9, rng);
  std::vector<float> r1(sq.size()), r2(sq.size());
  rotate(sq.data(), 9, 9, 90.0, 1, r1.data());
  EXPECT_GT(max_diff(r1, sq), 0.01);
  for (int i = 0; i < 3; ++i) {
    rotate(r1.data(), 9, 9, 90.0, 1, r2.data());
    r1 = r2;
  }
  EXPECT_LT(max_diff(r1, sq), 1e-6);
}

TEST(Augment, IntensityIsBrightnessThenContrastAboutTheMeanThenClip) {
  std::vector<float> img = {0.f, 0.5f, 1.f, 0.5f};  // mean 0.5
  std::vector<float> a = img;
  apply_intensity(a.data(), 4, Intensity{0.1f, 2.f}, 1.f, 0.f);  // no clip
  // mean after brightness 0.6: (x + 0.1 - 0.6) * 2 + 0.6
  EXPECT_NEAR(a[0], -0.4f, 1e-6);
  EXPECT_NEAR(a[1], 0.6f, 1e-6);
  EXPECT_NEAR(a[2], 1.6f, 1e-6);
  std::vector<float> b = img;
  apply_intensity(b.data(), 4, Intensity{0.1f, 2.f});  // clip to [0, 1.5]
  EXPECT_EQ(b[0], 0.f);
  EXPECT_EQ(b[2], 1.5f);
  for (double u : {0.0, 0.25, 0.5, 0.9}) {
    Intensity t = coupled_intensity(u);
    EXPECT_NEAR(t.factor, 1.f + t.delta, 1e-6);
    EXPECT_NEAR(t.delta, 0.6 * u - 0.3, 1e-6);
  }
}

TEST(Augment, CropWindowsStayInsideAndClipPastTheBorder) {
  Rng rng(2);
  bool clipped = false;
  for (int i = 0; i < 2000; ++i) {
    CropWindow a = draw_crop(192, 192, rng);
    ASSERT_TRUE(in_range(a.row, 10, 69));
    ASSERT_TRUE(in_range(a.col, 10, 69));
    ASSERT_EQ(a.rows, 100);
    ASSERT_EQ(a.cols, 100);
    CropWindow b = draw_crop(160, 160, rng);
    ASSERT_EQ(b.rows, std::min(100, 160 - b.row));
    ASSERT_EQ(b.cols, std::min(100, 160 - b.col));
    ASSERT_LE(b.row + b.rows, 160);
    ASSERT_LE(b.col + b.cols, 160);
    clipped |= b.rows < 100 || b.cols < 100;
  }
  EXPECT_TRUE(clipped);
  EXPECT_THROW(draw_crop(50, 50, rng), std::invalid_argument);
  std::vector<float> img(100), out(100);
  EXPECT_THROW(crop_resize(img.data(), 10, 10, CropWindow{5, 5, 6, 2}, out.data()), std::invalid_argument);
}

TEST(Augment, FinetuneSoftLabelsSumToOneAndKeepTheFirstImagesOneHot) {
  Rng rng(4);
  const int b = 20, h = 48, w = 40, C = 4;
  const size_t n = static_cast<size_t>(h) * w;
  std::vector<float> img(b * n);
  std::vector<uint8_t> lab(b * n);
  for (int i = 0; i < b; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double r = std::hypot(y - h / 2.0, x - w / 2.0);
        lab[i * n + y * w + x] = r < 6 ? 3 : r < 10 ? 2 : x < 8 ? 1 : 0;
        img[i * n + y * w + x] = i == 5 ? 0.f : static_cast<float>(lab[i * n + y * w + x]) / 3.f;
      }
  std::vector<float> oi(b * n), ol(b * n * C);
  FinetuneRecord rec;
  augment_finetune(img.data(), lab.data(), b, h, w, C, Compat::Paper, {}, rng, oi.data(), ol.data(), &rec);
  ASSERT_TRUE(in_range(rec.first_deformed, 1, b - 2));
  EXPECT_EQ(rec.affine_option[5], -1);  // blank image: no affine
  bool soft = false;
  for (int i = 0; i < b; ++i)
    for (size_t p = 0; p < n; ++p) {
      const float* l = ol.data() + (i * n + p) * C;
      float s = 0;
      for (int c = 0; c < C; ++c) {
        s += l[c];
        ASSERT_GE(l[c], 0.f);
        if (i < rec.first_deformed) {
          ASSERT_TRUE(l[c] == 0.f || l[c] == 1.f);
        }
        soft |= l[c] > 0.01f && l[c] < 0.99f;
      }
      ASSERT_NEAR(s, 1.f, 1e-5) << "image " << i << " pixel " << p;
    }
  EXPECT_TRUE(soft);
  // Undeformed images with no affine change are the input, exactly.
  for (int i = 0; i < rec.first_deformed; ++i)
    if (rec.affine_option[i] == 4 || rec.affine_option[i] == -1 ||
        (rec.affine_option[i] == 2 && rec.affine_param[i] == 0.0)) {
      EXPECT_TRUE(std::equal(oi.begin() + i * n, oi.begin() + (i + 1) * n, img.begin() + i * n)) << i;
    }
  // Paper mode applies intensity to the deformed images: contrast in the first half, brightness
  // in the second.
  for (int i = rec.first_deformed; i < b; ++i) {
    if (i < b / 2) {
      EXPECT_EQ(rec.intensity[i].delta, 0.f);
      EXPECT_TRUE(in_range(rec.intensity[i].factor, 0.8f, 1.2f));
    } else {
      EXPECT_EQ(rec.intensity[i].factor, 1.f);
      EXPECT_NE(rec.intensity[i].delta, 0.f);
    }
  }
}

TEST(Augment, FinetuneIsDeterministicAndReferenceModeSkipsIntensity) {
  const int b = 6, h = 32, w = 32, C = 3;
  const size_t n = static_cast<size_t>(h) * w;
  Rng data(5);
  auto img = random_image(b * h, w, data, 0.f, 1.f);
  std::vector<uint8_t> lab(b * n);
  for (auto& l : lab) l = static_cast<uint8_t>(data.uniform_int(0, C - 1));
  std::vector<float> oi1(b * n), ol1(b * n * C), oi2(b * n), ol2(b * n * C);
  FinetuneRecord r1, r2;
  Rng a(6), c(6);
  augment_finetune(img.data(), lab.data(), b, h, w, C, Compat::Reference, {}, a, oi1.data(), ol1.data(), &r1);
  augment_finetune(img.data(), lab.data(), b, h, w, C, Compat::Reference, {}, c, oi2.data(), ol2.data(), &r2);
  EXPECT_EQ(oi1, oi2);
  EXPECT_EQ(ol1, ol2);
  for (const Intensity& t : r1.intensity) {
    EXPECT_EQ(t.delta, 0.f);
    EXPECT_EQ(t.factor, 1.f);
  }
  FinetuneAugOptions forced;
  forced.intensity = 1;
  Rng d(6);
  augment_finetune(img.data(), lab.data(), b, h, w, C, Compat::Reference, forced, d, oi2.data(), ol2.data(), &r2);
  EXPECT_EQ(ol1, ol2);  // labels are not touched by intensity changes
  EXPECT_NE(oi1, oi2);
  lab[7] = C;  // out of range label
  EXPECT_THROW(augment_finetune(img.data(), lab.data(), b, h, w, C, Compat::Paper, {}, a, oi1.data(), ol1.data()),
               std::invalid_argument);
}

TEST(Augment, RandomFlowIsSmoothAndScaledBySigma) {
  Rng rng(7);
  const int h = 64, w = 64;
  std::vector<float> f1(2 * h * w), f2(2 * h * w);
  double sum2 = 0, grad = 0;
  for (int it = 0; it < 20; ++it) {
    random_flow(h, w, 5.0, rng, f1.data());
    for (int p = 0; p < h * w; ++p) sum2 += f1[2 * p] * f1[2 * p];
    for (int y = 0; y < h; ++y)
      for (int x = 1; x < w; ++x) grad = std::max(grad, double(std::fabs(f1[2 * (y * w + x)] - f1[2 * (y * w + x - 1)])));
  }
  const double rms = std::sqrt(sum2 / (20.0 * h * w));
  EXPECT_GT(rms, 1.5);  // of the order of sigma = 5 pixels
  EXPECT_LT(rms, 10.0);
  EXPECT_LT(grad, 2.0);  // smooth: neighbouring displacements differ by little
  random_flow(h, w, 0.0, rng, f2.data());
  EXPECT_TRUE(std::all_of(f2.begin(), f2.end(), [](float v) { return v == 0.f; }));
}

}  // namespace
}  // namespace cs
