// Slice samplers (docs/method.md §2.2, §2.5, §4.3) and the Rng they draw from; the batches built
// from them are tested in tests/experiments/test_batches.cpp.
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

}  // namespace
}  // namespace cs
