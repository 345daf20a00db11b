// Contrastive batches (experiments/batches.h, docs/method.md §2.2-2.8, §3.2): slices drawn into a
// slot layout, and its views rendered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

#include "experiments/batches.h"
#include "losses/slot_layout.h"

namespace cs {
namespace {

const std::vector<int> kCounts = {10, 11, 9, 13, 8, 12, 10, 7};

std::vector<SliceStack> stacks_for_test(int n, int z, int h, int w, Rng& rng) {
  std::vector<SliceStack> s;
  for (int v = 0; v < n; ++v) {
    SliceStack st(z, h, w, true);
    for (auto& x : st.image) x = static_cast<float>(rng.uniform(-0.5, 2.0));
    for (auto& l : st.label) l = static_cast<uint8_t>(rng.uniform_int(0, 3));
    s.push_back(std::move(st));
  }
  return s;
}

double max_diff(const float* a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

std::vector<SlotLayout> all_layouts() {
  return {paper_partition_layout(5, 4), reference_gd_minus_layout(), reference_gd_layout(), random_pairs_layout(6),
          local_pairs_layout(10),       ld_layout()};
}

// The draws are those the training runs were made with: the same slices for the same seed.
TEST(Batches, DrawsAreThoseOfTheTrainingRuns) {
  Rng rng(1);
  EXPECT_EQ(describe(paper_partition_layout(2, 3), draw_batch(paper_partition_layout(2, 3), kCounts, rng)),
            "0: vol 3 slice 2 part 0 view 0 none\n"
            "1: vol 3 slice 2 part 0 view 1 crop+intensity of 0 group 0\n"
            "2: vol 3 slice 6 part 1 view 0 none\n"
            "3: vol 3 slice 6 part 1 view 1 crop+intensity of 2 group 0\n"
            "4: vol 3 slice 8 part 2 view 0 none\n"
            "5: vol 3 slice 8 part 2 view 1 crop+intensity of 4 group 0\n"
            "6: vol 4 slice 1 part 0 view 0 none\n"
            "7: vol 4 slice 1 part 0 view 1 crop+intensity of 6 group 0\n"
            "8: vol 4 slice 2 part 1 view 0 none\n"
            "9: vol 4 slice 2 part 1 view 1 crop+intensity of 8 group 0\n"
            "10: vol 4 slice 4 part 2 view 0 none\n"
            "11: vol 4 slice 4 part 2 view 1 crop+intensity of 10 group 0\n");
  // Reference G^D: set 1 (slots 0 and 16) is drawn before set 2 (slots 8 and 24).
  Rng rng2(2);
  const DrawnBatch gd = draw_batch(reference_gd_layout(), kCounts, rng2);
  EXPECT_EQ(gd[0].volume, 6);
  EXPECT_EQ(gd[16].volume, 1);
  EXPECT_EQ(gd[8].volume, 2);
  EXPECT_EQ(gd[24].volume, 3);
  EXPECT_EQ(gd[25].slice, 5);
}

TEST(Batches, SameSeedSameBatch) {
  const SlotLayout L = reference_gd_layout();
  Rng a(9), b(9), c(10);
  EXPECT_EQ(describe(L, draw_batch(L, kCounts, a)), describe(L, draw_batch(L, kCounts, b)));
  Rng a2(9);
  EXPECT_NE(describe(L, draw_batch(L, kCounts, a2)), describe(L, draw_batch(L, kCounts, c)));
}

// Every slot of one (batch volume, partition) shows one slice from that partition; the batch
// volumes of one draw are distinct dataset volumes; zero slots show nothing.
TEST(Batches, SlotsOfOneBatchVolumeAndPartitionShowOneSlice) {
  Rng rng(11);
  for (const SlotLayout& L : all_layouts())
    for (int it = 0; it < 30; ++it) {
      const DrawnBatch b = draw_batch(L, kCounts, rng);
      ASSERT_EQ(b.size(), L.size());
      std::map<std::pair<int, int>, std::pair<int, int>> shown;  // (batch volume, partition) -> (volume, slice)
      std::map<int, int> dataset_volume;                         // batch volume -> dataset volume
      for (size_t i = 0; i < L.size(); ++i) {
        const Slot& s = L.slots[i];
        if (s.is_zero()) {
          EXPECT_EQ(b[i].volume, -1);
          continue;
        }
        ASSERT_GE(b[i].volume, 0);
        ASSERT_LT(b[i].slice, kCounts[b[i].volume]);
        EXPECT_EQ(b[i].partition, s.partition) << i;
        if (s.partition >= 0) {
          const int len = kCounts[b[i].volume] / L.partitions;
          EXPECT_EQ(b[i].slice / len, s.partition) << i;
        }
        if (s.copy_of >= 0) {
          EXPECT_EQ(b[i].slice, b[s.copy_of].slice) << i;
        }
        const auto key = std::make_pair(s.volume, s.partition);
        const auto [it2, fresh] = shown.emplace(key, std::make_pair(b[i].volume, b[i].slice));
        if (!fresh) {
          EXPECT_EQ(it2->second, std::make_pair(b[i].volume, b[i].slice)) << i;
        }
        if (L.partitions > 0) {
          const auto [it3, fresh_v] = dataset_volume.emplace(s.volume, b[i].volume);
          if (!fresh_v) {
            EXPECT_EQ(it3->second, b[i].volume) << i;
          }
        }
      }
      for (const std::vector<int>& set : L.draws) {
        std::set<int> distinct;
        for (int v : set) distinct.insert(dataset_volume.at(v));
        EXPECT_EQ(distinct.size(), set.size());
      }
    }
}

TEST(Batches, DrawsThatCannotBeMadeAreRefused) {
  Rng rng(5);
  EXPECT_THROW(draw_batch(paper_partition_layout(9, 4), kCounts, rng), std::invalid_argument);  // 8 volumes
  EXPECT_THROW(draw_batch(paper_partition_layout(2, 4), {10, 3}, rng), std::invalid_argument);  // Q < S
  SlotLayout broken = paper_partition_layout(2, 4);
  broken.draws = {{0}};  // batch volume 1 is never drawn
  EXPECT_THROW(draw_batch(broken, kCounts, rng), std::invalid_argument);
}

TEST(Batches, RenderedViewsRespectModesClipAndZeroSlots) {
  Rng rng(3);
  const int h = 96, w = 96;
  auto stacks = stacks_for_test(6, 9, h, w, rng);
  CropConfig crop{50, 5, 35};
  const size_t n = static_cast<size_t>(h) * w;
  const SlotLayout L = reference_gd_layout();
  for (Compat mode : {Compat::Reference, Compat::Paper}) {
    const DrawnBatch b = draw_batch(L, slice_counts(stacks), rng);
    std::vector<float> out(L.size() * n);
    std::vector<ViewRecord> rec;
    render_views(L, b, stacks, mode, rng, out.data(), &rec, crop);
    std::set<float> deltas[2];
    for (size_t i = 0; i < L.size(); ++i) {
      const Slot& s = L.slots[i];
      const float* o = out.data() + i * n;
      if (s.is_zero()) {
        EXPECT_TRUE(std::all_of(o, o + n, [](float v) { return v == 0.f; })) << i;
        continue;
      }
      if (s.aug == ViewAug::None) {
        const float* src = stacks[b[i].volume].slice(b[i].slice);
        EXPECT_TRUE(std::equal(o, o + n, src)) << i;
        continue;
      }
      EXPECT_TRUE(rec[i].cropped);
      EXPECT_GE(*std::min_element(o, o + n), 0.f);
      EXPECT_LE(*std::max_element(o, o + n), 1.5f);
      const Intensity& t = rec[i].params;
      EXPECT_GE(t.delta, -0.3f);
      EXPECT_LE(t.delta, 0.3f);
      EXPECT_GE(t.factor, 0.7f);
      EXPECT_LE(t.factor, 1.3f);
      if (mode == Compat::Reference) {
        EXPECT_NEAR(t.factor, 1.f + t.delta, 1e-6);
      }
      deltas[s.group].insert(t.delta);
    }
    if (mode == Compat::Reference) {
      EXPECT_EQ(deltas[0].size(), 1u);  // one draw per sub-batch
      EXPECT_EQ(deltas[1].size(), 1u);
    } else {
      EXPECT_EQ(deltas[0].size(), 8u);  // a draw per image
    }
  }
  // Local views: intensity only, so pixel positions correspond (same ordering of values).
  const SlotLayout lr = local_pairs_layout(3);
  const DrawnBatch b = draw_batch(lr, slice_counts(stacks), rng);
  std::vector<float> out(lr.size() * n);
  std::vector<ViewRecord> rec;
  render_views(lr, b, stacks, Compat::Paper, rng, out.data(), &rec, crop);
  for (size_t i = 0; i < lr.size(); ++i) {
    EXPECT_FALSE(rec[i].cropped);
    std::vector<float> expect(stacks[b[i].volume].slice(b[i].slice), stacks[b[i].volume].slice(b[i].slice) + n);
    apply_intensity(expect.data(), static_cast<int>(n), rec[i].params);
    EXPECT_LT(max_diff(out.data() + i * n, expect), 1e-6);
  }
  EXPECT_THROW(render_views(lr, DrawnBatch(b.begin(), b.end() - 1), stacks, Compat::Paper, rng, out.data()),
               std::invalid_argument);
}

}  // namespace
}  // namespace cs
