// The probes of stage 1 (experiments/evaluation/probes.h: k-NN partition accuracy) and stage 2
// (experiments/evaluation/local_probe.h: region and class retrieval, query pixels).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "experiments/evaluation/local_probe.h"
#include "experiments/evaluation/probes.h"
#include "io/rng.h"

namespace cs {
namespace {

TEST(KnnProbe, SeparatedLabelsAreFoundAndNoiseIsNearChance) {
  Rng rng(4);
  std::vector<LabelledEmbedding> clear, noise;
  for (int v = 0; v < 4; ++v)
    for (int p = 0; p < 4; ++p)
      for (int s = 0; s < 3; ++s) {
        std::vector<float> z(8);
        for (auto& x : z) x = static_cast<float>(0.1 * rng.normal());
        z[p] += 1.0f;  // label p points along axis p
        clear.push_back({v, p, z});
        for (auto& x : z) x = static_cast<float>(rng.normal());
        noise.push_back({v, p, z});
      }
  EXPECT_DOUBLE_EQ(knn_accuracy(clear, 4, 5), 1.0);
  EXPECT_LT(knn_accuracy(noise, 4, 5), 0.5);
  // Only other volumes vote: a label that only its own volume has is never found.
  std::vector<LabelledEmbedding> alone = {{0, 0, {1, 0}}, {0, 0, {1, 0}}, {1, 1, {0, 1}}, {1, 1, {0, 1}}};
  EXPECT_DOUBLE_EQ(knn_accuracy(alone, 2, 1), 0.0);
}

// Points spread along two directions of a 6-D space (10 times more along the first) project
// onto a plane that keeps both spreads, in order; the third direction holds no variance.
TEST(KnnProbe, PrincipalPlaneFindsTheTwoWidestDirections) {
  Rng rng(5);
  std::vector<std::vector<float>> z;
  for (int i = 0; i < 200; ++i) {
    const double a = 10 * rng.normal(), b = rng.normal();
    z.push_back({float(a / std::sqrt(2.0)), float(a / std::sqrt(2.0)), float(b), 3.f, 0.f, -1.f});
  }
  const auto p = principal_plane(z);
  ASSERT_EQ(p.size(), z.size());
  double vx = 0, vy = 0, mx = 0, my = 0;
  for (const auto& [x, y] : p) mx += x / p.size(), my += y / p.size();
  for (const auto& [x, y] : p) vx += (x - mx) * (x - mx), vy += (y - my) * (y - my);
  EXPECT_NEAR(mx, 0, 1e-6);
  EXPECT_GT(vx / vy, 30);  // about 100
  for (size_t i = 0; i < z.size(); ++i) {
    // the second component is the b direction, up to its sign
    EXPECT_NEAR(std::fabs(p[i].second), std::fabs(z[i][2] - 0.0), 0.5);
  }
}

// Region vectors [images * P, d] where position q of image i is e_q plus noise of size `noise`,
// optionally with the positions of odd images (second views) rotated by one.
std::vector<float> region_vectors(int images, int P, double noise, bool shift_second_views, Rng& rng) {
  std::vector<float> emb;
  for (int i = 0; i < images; ++i)
    for (int q = 0; q < P; ++q) {
      const int shown = shift_second_views && i % 2 == 1 ? (q + 1) % P : q;
      for (int k = 0; k < P; ++k) emb.push_back(static_cast<float>((k == shown ? 1.0 : 0.0) + noise * rng.normal()));
    }
  return emb;
}

TEST(LocalProbe, RegionRetrievalFindsTheSameRegionOfTheOtherView) {
  Rng rng(6);
  const int images = 4, P = 6;
  const std::vector<int> scored = {0, 1, 2, 3};
  EXPECT_DOUBLE_EQ(region_retrieval_accuracy(region_vectors(images, P, 0.01, false, rng), images, P, scored), 1.0);
  // Second views whose regions moved by one: every retrieval lands one region off.
  EXPECT_DOUBLE_EQ(region_retrieval_accuracy(region_vectors(images, P, 0.01, true, rng), images, P, scored), 0.0);
  EXPECT_THROW(region_retrieval_accuracy(std::vector<float>(5), images, P, scored), std::invalid_argument);
  EXPECT_THROW(region_retrieval_accuracy(region_vectors(3, P, 0, false, rng), 3, P, scored), std::invalid_argument);
}

// Two pairs of 2x2 maps. Features that are the class one-hot find their class every time; the
// chance level is the share of the query's class among the other pair's positions.
TEST(LocalProbe, ClassRetrievalLooksInTheOtherSlicesOnly) {
  const int images = 4, side = 2;
  const std::vector<uint8_t> labels = {0, 1, 1, 2, /**/ 0, 1, 1, 2, /**/ 0, 0, 1, 2, /**/ 0, 0, 1, 2};
  std::vector<float> onehot;
  for (uint8_t l : labels)
    for (int k = 0; k < 3; ++k) onehot.push_back(k == l ? 1.f : 0.f);
  const auto [acc, chance] = class_retrieval_accuracy(onehot, labels, images, side);
  EXPECT_DOUBLE_EQ(acc, 1.0);
  // pair 0's queries (1, 1, 2 in each image) see pair 1's 8 positions: class 1 twice, class 2 twice
  // -> 2/8 for all; pair 1's queries (1, 2) see pair 0's: class 1 four times, class 2 twice.
  EXPECT_NEAR(chance, (6 * 0.25 + 2 * 0.5 + 2 * 0.25) / 10, 1e-12);
  // Features that say "class 1" everywhere: class-2 queries find class 1.
  std::vector<float> same(labels.size() * 3, 0.f);
  for (size_t i = 0; i < labels.size(); ++i) same[i * 3 + 1] = 1.f;
  EXPECT_LT(class_retrieval_accuracy(same, labels, images, side).first, 1.0);
  EXPECT_THROW(class_retrieval_accuracy(onehot, labels, images, 3), std::invalid_argument);
}

TEST(LocalProbe, QueriesSitInsideTheirClassesAndInTheBackground) {
  const int h = 12, w = 12;
  std::vector<uint8_t> label(h * w, 0);
  for (int y = 2; y < 6; ++y)
    for (int x = 2; x < 6; ++x) label[y * w + x] = 1;
  for (int y = 7; y < 10; ++y)
    for (int x = 3; x < 5; ++x) label[y * w + x] = 3;  // class 2 absent
  const auto q = class_queries(label, h, w, {"bg", "RV", "Myo", "LV"});
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].name, "RV");
  EXPECT_EQ(label[q[0].y * w + q[0].x], 1);
  EXPECT_EQ(q[1].name, "LV");
  EXPECT_EQ(label[q[1].y * w + q[1].x], 3);
  EXPECT_EQ(q[2].name, "bg");
  EXPECT_EQ(label[q[2].y * w + q[2].x], 0);
  EXPECT_TRUE(class_queries(std::vector<uint8_t>(h * w, 0), h, w, {}).empty());
}

}  // namespace
}  // namespace cs
