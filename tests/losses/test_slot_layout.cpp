// Batch layouts (losses/slot_layout.h, docs/method.md §2.3-2.7, §3.2): which batch volume,
// partition and view every slot shows and how its image is made. Drawing slices into them is
// tested in tests/experiments/test_batches.cpp.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "losses/global.h"
#include "losses/local.h"
#include "losses/slot_layout.h"

namespace cs {
namespace {

TEST(SlotLayout, ReferenceGdHas48SlotsWithZeroBlockAt32) {
  const SlotLayout L = reference_gd_layout();
  ASSERT_EQ(L.size(), 48u);
  EXPECT_EQ(L.volumes, 4);
  EXPECT_EQ(L.partitions, 4);
  // Two independent sets: set 1 fills batch volumes 0 and 2, set 2 fills 1 and 3.
  EXPECT_EQ(L.draws, (std::vector<std::vector<int>>{{0, 2}, {1, 3}}));
  for (int i = 0; i < 48; ++i) {
    const Slot& s = L.slots[i];
    EXPECT_EQ(s.is_zero(), i >= 32) << i;
    EXPECT_EQ(s.partition, i % 4) << i;  // index mod 4 is the partition, zero slots included
    EXPECT_EQ(s.view, (i % 8) / 4) << i;  // the place of an original or a copy, zero slots included
    if (i >= 32) continue;
    const int block = i / 16, set = (i % 16) / 8;
    EXPECT_EQ(s.volume, 2 * block + set) << i;
    const bool augmented = (i % 8) >= 4;
    EXPECT_EQ(s.aug, augmented ? ViewAug::CropIntensity : ViewAug::None) << i;
    EXPECT_EQ(s.copy_of, augmented ? i - 4 : -1) << i;
    EXPECT_EQ(s.group, augmented ? set : -1) << i;  // set-1 copies, set-2 copies
  }
}

TEST(SlotLayout, ReferenceGdMinusIs36SlotsOfThreeVolumes) {
  const SlotLayout L = reference_gd_minus_layout();
  ASSERT_EQ(L.size(), 36u);
  EXPECT_EQ(L.draws, (std::vector<std::vector<int>>{{0, 1, 2}}));
  for (int i = 0; i < 36; ++i) {
    const Slot& s = L.slots[i];
    const int k = i % 12, view = i / 12;
    EXPECT_EQ(s.volume, k / 4) << i;
    EXPECT_EQ(s.partition, k % 4) << i;
    EXPECT_EQ(s.view, view) << i;
    EXPECT_EQ(s.aug, view == 0 ? ViewAug::None : ViewAug::CropIntensity) << i;
    EXPECT_EQ(s.copy_of, view == 0 ? -1 : k) << i;
    EXPECT_EQ(s.group, view - 1) << i;
  }
}

TEST(SlotLayout, PaperGlobalLayoutIsVolumesTimesPartitionsTimesTwoViews) {
  const SlotLayout L = paper_partition_layout(6, 4);
  ASSERT_EQ(L.size(), 48u);
  EXPECT_EQ(L.draws, (std::vector<std::vector<int>>{{0, 1, 2, 3, 4, 5}}));
  for (int i = 0; i < 48; ++i) {
    const Slot& s = L.slots[i];
    EXPECT_FALSE(s.is_zero());
    // row ((v * S) + s) * 2 + view, the loss's order
    EXPECT_EQ(s.volume, i / 8);
    EXPECT_EQ(s.partition, i / 2 % 4);
    EXPECT_EQ(s.view, i % 2);
    EXPECT_EQ(s.aug, i % 2 ? ViewAug::CropIntensity : ViewAug::None);
    EXPECT_EQ(s.copy_of, i % 2 ? i - 1 : -1);
  }
}

TEST(SlotLayout, TwoViewLayoutsPairTheRightSlots) {
  const SlotLayout lr = local_pairs_layout(10), gr = random_pairs_layout(6);
  ASSERT_EQ(lr.size(), 20u);
  ASSERT_EQ(gr.size(), 12u);
  EXPECT_EQ(lr.partitions, 0);  // drawn uniformly from all slices
  EXPECT_TRUE(lr.draws.empty());
  for (int k = 0; k < 10; ++k)
    for (int v = 0; v < 2; ++v) {
      const Slot& s = lr.slots[2 * k + v];
      EXPECT_EQ(s.volume, k);  // the k-th drawn slice
      EXPECT_EQ(s.partition, -1);
      EXPECT_EQ(s.view, v + 1);
      EXPECT_EQ(s.aug, ViewAug::Intensity);
      EXPECT_EQ(s.group, v);
    }
  for (const Slot& s : gr.slots) EXPECT_EQ(s.aug, ViewAug::CropIntensity);
  const SlotLayout ld = ld_layout();
  ASSERT_EQ(ld.size(), static_cast<size_t>(kLdImages));
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(ld.slots[i].volume, ld.slots[12 + i].volume);
    EXPECT_EQ(ld.slots[i].partition, i % 4);
    EXPECT_EQ(ld.slots[12 + i].partition, i % 4);
    EXPECT_EQ(ld.slots[i].view, 1);
    EXPECT_EQ(ld.slots[12 + i].view, 2);
    EXPECT_EQ(ld.slots[i].aug, ViewAug::Intensity);
    EXPECT_EQ(ld.slots[i].copy_of, -1);
  }
}

// The one switch: every loss kind and mode gets its builder's layout.
TEST(SlotLayout, EachLossGetsItsLayout) {
  auto same = [](const SlotLayout& a, const SlotLayout& b) {
    if (a.size() != b.size() || a.volumes != b.volumes || a.partitions != b.partitions || a.draws != b.draws)
      return false;
    for (size_t i = 0; i < a.size(); ++i) {
      const Slot &x = a.slots[i], &y = b.slots[i];
      if (x.volume != y.volume || x.partition != y.partition || x.view != y.view || x.copy_of != y.copy_of ||
          x.aug != y.aug || x.group != y.group)
        return false;
    }
    return true;
  };
  for (Compat m : {Compat::Paper, Compat::Reference})
    EXPECT_TRUE(same(slot_layout(GlobalLossKind::GR, m, 7), random_pairs_layout(7)));
  EXPECT_TRUE(same(slot_layout(GlobalLossKind::GD, Compat::Paper, 5, 3), paper_partition_layout(5, 3)));
  EXPECT_TRUE(same(slot_layout(GlobalLossKind::GDMinus, Compat::Paper, 5, 3), paper_partition_layout(5, 3)));
  EXPECT_TRUE(same(slot_layout(GlobalLossKind::GD, Compat::Reference, 5, 3), reference_gd_layout()));
  EXPECT_TRUE(same(slot_layout(GlobalLossKind::GDMinus, Compat::Reference, 5, 3), reference_gd_minus_layout()));
  EXPECT_TRUE(same(slot_layout(LocalLossKind::LR, 10), local_pairs_layout(10)));
  EXPECT_TRUE(same(slot_layout(LocalLossKind::LD, 10), ld_layout()));
}

TEST(SlotLayout, RejectsEmptyBatches) {
  EXPECT_THROW(paper_partition_layout(0, 4), std::invalid_argument);
  EXPECT_THROW(paper_partition_layout(3, 0), std::invalid_argument);
  EXPECT_THROW(random_pairs_layout(0), std::invalid_argument);
  EXPECT_THROW(local_pairs_layout(-1), std::invalid_argument);
}

}  // namespace
}  // namespace cs
