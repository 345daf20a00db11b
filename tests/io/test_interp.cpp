// The interpolation primitives of io/augment against scikit-image / SciPy / grid_sample outputs
// stored by scripts/check_augment.py in tests/io/interp_fixture.txt.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/augmentation/augment.h"

namespace cs {
namespace {

struct Arr {
  std::vector<int> shape;
  std::vector<double> v;
  std::vector<float> f() const { return std::vector<float>(v.begin(), v.end()); }
};

const std::map<std::string, Arr>& fixture() {
  static const std::map<std::string, Arr> m = [] {
    std::map<std::string, Arr> r;
    std::ifstream in(CONTRASEG_SOURCE_DIR "/tests/io/interp_fixture.txt");
    if (!in) throw std::runtime_error("cannot open tests/io/interp_fixture.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream hs(line);
      std::string name;
      int nd;
      hs >> name >> nd;
      Arr a;
      size_t n = 1;
      for (int i = 0; i < nd; ++i) {
        int d;
        hs >> d;
        a.shape.push_back(d);
        n *= d;
      }
      std::getline(in, line);
      std::istringstream vs(line);
      a.v.resize(n);
      for (auto& x : a.v) vs >> x;
      r[name] = a;
    }
    return r;
  }();
  return m;
}

const Arr& get(const std::string& name) {
  auto it = fixture().find(name);
  if (it == fixture().end()) throw std::runtime_error("fixture has no array " + name);
  return it->second;
}

template <typename T>
double max_abs_diff(const std::vector<T>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(Interp, LinearResizeMatchesSkimage) {
  const Arr& s = get("linear_src");
  for (const char* name : {"linear_up", "linear_down"}) {
    const Arr& ref = get(name);
    std::vector<float> out(ref.v.size());
    resize_linear(s.f().data(), s.shape[0], s.shape[1], out.data(), ref.shape[0], ref.shape[1]);
    EXPECT_LT(max_abs_diff(out, ref.v), 1e-5) << name;
  }
}

TEST(Interp, CropResizeMatchesSkimageIncludingWindowPastBorder) {
  const Arr& s = get("crop_src");
  const int h = s.shape[0], w = s.shape[1];
  std::vector<float> out(s.v.size());
  crop_resize(s.f().data(), h, w, CropWindow{10, 12, 20, 24}, out.data());  // [10:30, 12:36]
  // The fixture's window [12:42] runs past 36 columns: numpy keeps 24 of them.
  EXPECT_LT(max_abs_diff(out, get("crop_a").v), 1e-5);
  CropConfig cfg;
  cfg.box = 20;
  // A window starting at (25, 20) of a 40x36 image is clipped to 15x16.
  CropWindow win{25, 20, std::min(cfg.box, h - 25), std::min(30, w - 20)};
  EXPECT_EQ(win.rows, 15);
  EXPECT_EQ(win.cols, 16);
  crop_resize(s.f().data(), h, w, win, out.data());
  EXPECT_LT(max_abs_diff(out, get("crop_b").v), 1e-5);
}

TEST(Interp, CubicResizeMatchesSkimageOrder3Reflect) {
  const Arr& s = get("cubic_src");
  const Arr& ref = get("cubic_out");
  std::vector<float> out(ref.v.size());
  resize_cubic(s.v.data(), 3, 3, out.data(), ref.shape[0], ref.shape[1]);
  EXPECT_LT(max_abs_diff(out, ref.v), 1e-4);  // float output of values up to ~15
}

// An image transform and its label twin against the fixture's "<name>" and "<name>_lab" outputs
// of the sources `src` and `lab_src`, for each (name, parameter).
void expect_pair_matches(const char* src, const char* lab_src,
                         const std::vector<std::pair<const char*, double>>& cases,
                         void (*image_op)(const float*, int, int, double, int, float*),
                         void (*label_op)(const uint8_t*, int, int, double, uint8_t*)) {
  const Arr& s = get(src);
  const Arr& ls = get(lab_src);
  const int h = s.shape[0], w = s.shape[1];
  std::vector<uint8_t> lab(ls.v.begin(), ls.v.end()), lout(lab.size());
  for (auto [name, param] : cases) {
    std::vector<float> out(s.v.size());
    image_op(s.f().data(), h, w, param, 1, out.data());
    EXPECT_LT(max_abs_diff(out, get(name).v), 1e-5) << name;
    label_op(lab.data(), h, w, param, lout.data());
    EXPECT_LT(max_abs_diff(lout, get(std::string(name) + "_lab").v), 0.5) << name << " labels";
  }
}

TEST(Interp, RotationMatchesScipy) {
  expect_pair_matches("rot_src", "rot_lab_src", {{"rot_a", 17.3}, {"rot_b", -11.0}, {"rot_c", 135.0}, {"rot_d", 90.0}},
                      rotate, rotate_labels);
}

TEST(Interp, RescaleCropPadMatchesSkimage) {
  expect_pair_matches("scale_src", "scale_lab_src", {{"scale_up", 1.05}, {"scale_down", 0.95}, {"scale_down2", 0.97}},
                      rescale_crop_pad, rescale_crop_pad_labels);
}

TEST(Interp, DenseWarpMatchesClampedBilinear) {
  const Arr& s = get("warp_src");
  const Arr& fl = get("warp_flow");
  const int h = s.shape[0], w = s.shape[1], c = s.shape[2];
  std::vector<float> out(s.v.size());
  dense_warp(s.f().data(), h, w, c, fl.f().data(), out.data());
  EXPECT_LT(max_abs_diff(out, get("warp_out").v), 1e-5);
}

}  // namespace
}  // namespace cs
