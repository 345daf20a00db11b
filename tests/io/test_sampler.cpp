// Slice samplers and batch layouts (docs/method.md §2.2-2.7, §3.2, §4.3) and the Rng they draw from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "io/rng.h"
#include "io/augmentation/sampler.h"

namespace cs {
namespace {

TEST(Rng, SameSeedSameNumbersAndSplitsAreIndependent) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(Rng(42).next_u64(), c.next_u64());
  // split depends on the seed and purpose only, not on how much was drawn before.
  Rng d(7);
  const uint64_t s1 = d.split("crop").next_u64();
  d.next_u64();
  EXPECT_EQ(d.split("crop").next_u64(), s1);
  EXPECT_NE(d.split("intensity").next_u64(), s1);
  EXPECT_NE(d.split(1).next_u64(), d.split(2).next_u64());
}

TEST(Rng, DistributionsCoverTheirRanges) {
  Rng r(1);
  std::set<int> seen;
  double sum = 0, sum2 = 0, usum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const int k = r.uniform_int(10, 14);
    ASSERT_GE(k, 10);
    ASSERT_LE(k, 14);
    seen.insert(k);
    const double x = r.normal(2.0, 3.0);
    sum += x;
    sum2 += x * x;
    const double u = r.uniform(-0.3, 0.3);
    ASSERT_GE(u, -0.3);
    ASSERT_LT(u, 0.3);
    usum += u;
  }
  EXPECT_EQ(seen.size(), 5u);
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 2.0, 0.1);
  EXPECT_NEAR(sd, 3.0, 0.1);
  EXPECT_NEAR(usum / n, 0.0, 0.01);
  EXPECT_THROW(r.uniform_int(3, 2), std::invalid_argument);
  auto s = r.sample_without_replacement(10, 10);
  std::sort(s.begin(), s.end());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s[i], i);
  EXPECT_THROW(r.sample_without_replacement(3, 4), std::invalid_argument);
}

TEST(Sampler, PartitionRangesDropTheRemainder) {
  // Q = 10, S = 4: floor(10/4) = 2 -> [0,2) [2,4) [4,6) [6,8); slices 8 and 9 in no partition.
  for (int k = 0; k < 4; ++k) {
    auto [b, e] = partition_range(10, 4, k);
    EXPECT_EQ(b, 2 * k);
    EXPECT_EQ(e, 2 * k + 2);
  }
  EXPECT_EQ(partition_range(4, 4, 3), std::make_pair(3, 4));
  EXPECT_THROW(partition_range(3, 4, 0), std::invalid_argument);
  EXPECT_THROW(partition_range(10, 4, 4), std::invalid_argument);
}

TEST(Sampler, PartitionedDrawsDistinctVolumesInPartitionOrder) {
  const std::vector<int> counts = {10, 11, 9, 13, 8, 12};
  Rng rng(3);
  std::set<std::pair<int, int>> seen;  // (volume, slice)
  for (int it = 0; it < 2000; ++it) {
    auto d = sample_partitioned(counts, 4, 4, rng);
    ASSERT_EQ(d.size(), 16u);
    std::set<int> vols;
    for (int v = 0; v < 4; ++v) {
      vols.insert(d[v * 4].volume);
      for (int k = 0; k < 4; ++k) {
        const SliceRef& r = d[v * 4 + k];
        ASSERT_EQ(r.volume, d[v * 4].volume);
        ASSERT_EQ(r.partition, k);
        auto [b, e] = partition_range(counts[r.volume], 4, k);
        ASSERT_GE(r.slice, b);
        ASSERT_LT(r.slice, e);
        seen.insert({r.volume, r.slice});
      }
    }
    ASSERT_EQ(vols.size(), 4u);
  }
  // Every partitioned slice is reachable; the last Q mod S never are.
  for (int v = 0; v < static_cast<int>(counts.size()); ++v) {
    const int used = counts[v] / 4 * 4;
    for (int s = 0; s < counts[v]; ++s) EXPECT_EQ(seen.count({v, s}) == 1, s < used) << v << " " << s;
  }
  EXPECT_THROW(sample_partitioned(counts, 7, 4, rng), std::invalid_argument);
  EXPECT_THROW(sample_partitioned({10, 3}, 2, 4, rng), std::invalid_argument);
}

TEST(Sampler, UniformSlicesWeightEverySliceEqually) {
  const std::vector<int> counts = {1, 3};
  Rng rng(5);
  auto d = sample_uniform_slices(counts, 8000, rng);
  int v1 = 0;
  for (auto& r : d) {
    ASSERT_GE(r.slice, 0);
    ASSERT_LT(r.slice, counts[r.volume]);
    EXPECT_EQ(r.partition, -1);
    v1 += r.volume == 1;
  }
  EXPECT_NEAR(v1 / 8000.0, 0.75, 0.03);  // 3 of the 4 slices are in volume 1
}

TEST(Sampler, SameSeedSameLayout) {
  const std::vector<int> counts = {10, 11, 9, 13, 8, 12};
  Rng a(9), b(9), c(10);
  EXPECT_EQ(layout_gd_reference(counts, a).describe(), layout_gd_reference(counts, b).describe());
  Rng a2(9);
  EXPECT_NE(layout_gd_reference(counts, a2).describe(), layout_gd_reference(counts, c).describe());
}

TEST(Sampler, ReferenceGdHas48SlotsWithZeroBlockAt32) {
  const std::vector<int> counts = {10, 11, 9, 13, 8, 12, 10};
  Rng rng(11);
  for (int it = 0; it < 50; ++it) {
    BatchLayout L = layout_gd_reference(counts, rng);
    ASSERT_EQ(L.size(), 48u);
    for (int i = 0; i < 48; ++i) {
      const BatchSlot& s = L.slots[i];
      EXPECT_EQ(s.is_zero(), i >= 32) << i;
      EXPECT_EQ(s.partition, i % 4) << i;  // index mod 4 is the partition, zero slots included
      if (i >= 32) continue;
      const bool augmented = (i % 8) >= 4;
      EXPECT_EQ(s.aug, augmented ? ViewAug::CropIntensity : ViewAug::None) << i;
      if (augmented) {
        EXPECT_EQ(s.copy_of, i - 4);
        EXPECT_EQ(s.volume, L.slots[i - 4].volume);
        EXPECT_EQ(s.slice, L.slots[i - 4].slice);
        EXPECT_EQ(s.group, (i % 16) < 8 ? 0 : 1);  // set-1 copies, set-2 copies
      } else {
        EXPECT_EQ(s.copy_of, -1);
      }
      // Each group of 4 originals is one volume's p0..p3.
      EXPECT_EQ(s.volume, L.slots[i - i % 4].volume);
    }
    // Within a set the two volumes are distinct (set 1: slots 0 and 16; set 2: 8 and 24).
    EXPECT_NE(L.slots[0].volume, L.slots[16].volume);
    EXPECT_NE(L.slots[8].volume, L.slots[24].volume);
  }
}

TEST(Sampler, ReferenceGdMinusIs36SlotsOfThreeVolumes) {
  const std::vector<int> counts = {10, 11, 9, 13};
  Rng rng(12);
  BatchLayout L = layout_gd_minus_reference(counts, rng);
  ASSERT_EQ(L.size(), 36u);
  std::set<int> vols;
  for (int i = 0; i < 12; ++i) {
    vols.insert(L.slots[i].volume);
    EXPECT_EQ(L.slots[i].partition, i % 4);
    EXPECT_EQ(L.slots[i].aug, ViewAug::None);
    for (int v = 1; v <= 2; ++v) {
      const BatchSlot& s = L.slots[12 * v + i];
      EXPECT_EQ(s.copy_of, i);
      EXPECT_EQ(s.slice, L.slots[i].slice);
      EXPECT_EQ(s.view, v);
      EXPECT_EQ(s.group, v - 1);
      EXPECT_EQ(s.aug, ViewAug::CropIntensity);
    }
  }
  EXPECT_EQ(vols.size(), 3u);
}

TEST(Sampler, PaperGlobalLayoutIsVolumesTimesPartitionsTimesTwoViews) {
  const std::vector<int> counts = {10, 11, 9, 13, 8, 12, 10};
  Rng rng(13);
  BatchLayout L = layout_global_paper(counts, 6, 4, rng);
  ASSERT_EQ(L.size(), 48u);
  for (int i = 0; i < 48; ++i) {
    const BatchSlot& s = L.slots[i];
    EXPECT_FALSE(s.is_zero());
    // row ((v * S) + s) * 2 + view, the loss's order
    EXPECT_EQ(s.partition, i / 2 % 4);
    EXPECT_EQ(s.view, i % 2);
    EXPECT_EQ(s.volume, L.slots[i / 8 * 8].volume);
    if (i % 2 == 1) {
      EXPECT_EQ(s.copy_of, i - 1);
      EXPECT_EQ(s.draw, L.slots[i - 1].draw);
      EXPECT_EQ(s.aug, ViewAug::CropIntensity);
    } else {
      EXPECT_EQ(s.aug, ViewAug::None);
    }
  }
  std::set<int> vols;
  for (int v = 0; v < 6; ++v) vols.insert(L.slots[8 * v].volume);
  EXPECT_EQ(vols.size(), 6u);
}

TEST(Sampler, TwoViewLayoutsPairTheRightSlots) {
  const std::vector<int> counts = {10, 11, 9, 13};
  Rng rng(14);
  BatchLayout lr = layout_lr(counts, 10, rng);
  ASSERT_EQ(lr.size(), 20u);
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(lr.slots[2 * k].draw, k);
    EXPECT_EQ(lr.slots[2 * k + 1].draw, k);
    EXPECT_EQ(lr.slots[2 * k].aug, ViewAug::Intensity);
    EXPECT_EQ(lr.slots[2 * k].group, 0);
    EXPECT_EQ(lr.slots[2 * k + 1].group, 1);
  }
  BatchLayout gr = layout_gr(counts, 6, rng);
  ASSERT_EQ(gr.size(), 12u);
  for (const BatchSlot& s : gr.slots) EXPECT_EQ(s.aug, ViewAug::CropIntensity);
  BatchLayout ld = layout_ld(counts, rng);
  ASSERT_EQ(ld.size(), 24u);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(ld.slots[i].slice, ld.slots[12 + i].slice);
    EXPECT_EQ(ld.slots[i].volume, ld.slots[12 + i].volume);
    EXPECT_EQ(ld.slots[i].partition, i % 4);
    EXPECT_EQ(ld.slots[i].view, 1);
    EXPECT_EQ(ld.slots[12 + i].view, 2);
  }
}

}  // namespace
}  // namespace cs
