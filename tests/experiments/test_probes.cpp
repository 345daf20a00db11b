// The k-NN probe of stage 1 (experiments/evaluation/probes.h).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cs
