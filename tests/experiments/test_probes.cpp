// The k-NN probe of stage 1 (experiments/evaluation/probes.h).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

}  // namespace
}  // namespace cs
