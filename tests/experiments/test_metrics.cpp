// Dice and HD95 against masks whose answers are known by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "experiments/evaluation/metrics.h"

namespace cs {
namespace {

std::vector<uint8_t> box(const Grid3& g, int x0, int x1, int y0, int y1, int z0, int z1, uint8_t label,
                         std::vector<uint8_t> base = {}) {
  if (base.empty()) base.assign(g.size(), 0);
  for (int z = z0; z < z1; ++z)
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) base[x + g.nx * (y + g.ny * z)] = label;
  return base;
}

TEST(Metrics, DiceOfOverlappingBoxes) {
  Grid3 g{10, 10, 1};
  auto gt = box(g, 0, 4, 0, 5, 0, 1, 1);    // 20 voxels
  auto pred = box(g, 2, 6, 0, 5, 0, 1, 1);  // 20 voxels, 10 shared
  auto d = dice_per_class(pred, gt, 2);
  EXPECT_DOUBLE_EQ(d[1], 2.0 * 10 / 40);
  EXPECT_DOUBLE_EQ(d[0], 2.0 * 70 / 160);  // background: 80 each, 70 shared
}

TEST(Metrics, DiceNaNWhenClassAbsentFromBoth) {
  Grid3 g{4, 4, 1};
  auto gt = box(g, 0, 2, 0, 2, 0, 1, 1);
  auto d = dice_per_class(gt, gt, 3);
  EXPECT_DOUBLE_EQ(d[1], 1.0);
  EXPECT_TRUE(std::isnan(d[2]));
  EXPECT_DOUBLE_EQ(nanmean(d, 1), 1.0);  // the NaN class is left out
}

TEST(Metrics, DiceZeroWhenPredictionMissesClass) {
  Grid3 g{4, 4, 1};
  auto gt = box(g, 0, 2, 0, 2, 0, 1, 2);
  std::vector<uint8_t> pred(g.size(), 0);
  EXPECT_DOUBLE_EQ(dice_per_class(pred, gt, 3)[2], 0.0);
}

TEST(Metrics, HD95OfShiftedSquareUsesSpacing) {
  // A 6x6 square shifted by 3 voxels along x, with 2 mm voxels along x: every surface voxel of
  // the shifted square on the far side is 3 voxels = 6 mm from the other surface.
  Grid3 g{20, 20, 1, 2.0, 1.0, 1.0};
  auto gt = box(g, 5, 11, 5, 11, 0, 1, 1);
  auto pred = box(g, 8, 14, 5, 11, 0, 1, 1);
  auto h = hd95_per_class(pred, gt, g, 2);
  // The largest distances are 6 mm (far edges); the 95th percentile sits at 6 mm.
  EXPECT_NEAR(h[1], 6.0, 1e-9);
  EXPECT_TRUE(std::isnan(hd95_per_class(pred, gt, g, 3)[2]));
}

TEST(Metrics, HD95ZeroForIdenticalMasks) {
  Grid3 g{8, 8, 3, 1.5, 1.5, 5.0};
  auto gt = box(g, 1, 6, 2, 7, 0, 3, 1);
  EXPECT_DOUBLE_EQ(hd95_per_class(gt, gt, g, 2)[1], 0.0);
}

TEST(Metrics, HD95AlongSliceAxisUsesSliceThickness) {
  // One voxel shifted by one slice of 5 mm thickness.
  Grid3 g{3, 3, 4, 1.0, 1.0, 5.0};
  auto gt = box(g, 1, 2, 1, 2, 1, 2, 1);
  auto pred = box(g, 1, 2, 1, 2, 2, 3, 1);
  EXPECT_NEAR(hd95_per_class(pred, gt, g, 2)[1], 5.0, 1e-9);
}

// Brute force over every pair of surface voxels, with the surface of the definition (a voxel of
// the mask with a 6-neighbour outside it or outside the volume).
double brute_force_hd95(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, const Grid3& g, uint8_t c) {
  auto surface_points = [&](const std::vector<uint8_t>& m) {
    std::vector<std::array<double, 3>> pts;
    auto in = [&](int x, int y, int z) {
      return x >= 0 && y >= 0 && z >= 0 && x < g.nx && y < g.ny && z < g.nz && m[x + g.nx * (y + g.ny * z)] == c;
    };
    for (int z = 0; z < g.nz; ++z)
      for (int y = 0; y < g.ny; ++y)
        for (int x = 0; x < g.nx; ++x)
          if (in(x, y, z) && (!in(x - 1, y, z) || !in(x + 1, y, z) || !in(x, y - 1, z) || !in(x, y + 1, z) ||
                              !in(x, y, z - 1) || !in(x, y, z + 1)))
            pts.push_back({x * g.dx, y * g.dy, z * g.dz});
    return pts;
  };
  const auto pa = surface_points(a), pb = surface_points(b);
  std::vector<double> d;
  for (const auto* from : {&pa, &pb})
    for (const auto& p : *from) {
      double best = 1e300;
      for (const auto& q : (from == &pa ? pb : pa))
        best = std::min(best, std::pow(p[0] - q[0], 2) + std::pow(p[1] - q[1], 2) + std::pow(p[2] - q[2], 2));
      d.push_back(std::sqrt(best));
    }
  std::sort(d.begin(), d.end());
  const double pos = 0.95 * (d.size() - 1);
  const size_t lo = static_cast<size_t>(pos), hi = std::min(lo + 1, d.size() - 1);
  return d[lo] + (pos - lo) * (d[hi] - d[lo]);
}

// Random blobs of two classes in an anisotropic volume, the background included (whose surface
// runs along the volume's border): the distance transform on the box around both masks gives
// what the pairwise distances give.
TEST(Metrics, HD95MatchesBruteForceOnRandomShapes) {
  const Grid3 g{23, 19, 6, 1.3, 0.9, 4.0};
  std::mt19937 rng(3);
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<uint8_t> pred(g.size(), 0), gt(g.size(), 0);
    for (auto* m : {&pred, &gt})
      for (int blob = 0; blob < 3; ++blob) {
        const int cx = 4 + rng() % 15, cy = 4 + rng() % 11, cz = rng() % 6, r = 2 + rng() % 3;
        for (int z = 0; z < g.nz; ++z)
          for (int y = 0; y < g.ny; ++y)
            for (int x = 0; x < g.nx; ++x)
              if ((x - cx) * (x - cx) + (y - cy) * (y - cy) + 4 * (z - cz) * (z - cz) <= r * r)
                (*m)[x + g.nx * (y + g.ny * z)] = static_cast<uint8_t>(1 + blob % 2);
      }
    const auto h = hd95_per_class(pred, gt, g, 3);
    for (uint8_t c = 0; c < 3; ++c) EXPECT_NEAR(h[c], brute_force_hd95(pred, gt, g, c), 1e-9) << "class " << int(c);
  }
}

TEST(Metrics, RejectsMismatchedSizesAndLabels) {
  std::vector<uint8_t> a(4, 0), b(5, 0), c(4, 7);
  EXPECT_THROW(dice_per_class(a, b, 2), std::invalid_argument);
  EXPECT_THROW(dice_per_class(c, a, 2), std::invalid_argument);
}

}  // namespace
}  // namespace cs
