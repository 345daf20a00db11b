// Dice and HD95 against masks whose answers are known by hand.
#include <gtest/gtest.h>

#include <cmath>

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

TEST(Metrics, RejectsMismatchedSizesAndLabels) {
  Grid3 g{2, 2, 1};
  std::vector<uint8_t> a(4, 0), b(5, 0), c(4, 7);
  EXPECT_THROW(dice_per_class(a, b, 2), std::invalid_argument);
  EXPECT_THROW(dice_per_class(c, a, 2), std::invalid_argument);
}

}  // namespace
}  // namespace cs
