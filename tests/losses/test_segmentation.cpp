// Dice and weighted cross-entropy (losses/segmentation.h) against double references.
#include <gtest/gtest.h>

#include <random>

#include "autograd/tape.h"
#include "losses/loss_reference.h"
#include "losses/segmentation.h"
#include "support/gradcheck.h"

namespace cs::test {
namespace {

// Labels [N,H,W,C]: one-hot, or soft (random convex weights) when `soft`.
Tensor make_labels(int64_t N, int64_t H, int64_t W, int64_t C, uint64_t seed, bool soft) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int64_t> cls(0, C - 1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Vec y(N * H * W * C, 0.0);
  for (int64_t i = 0; i < N * H * W; ++i) {
    if (!soft) {
      y[i * C + cls(gen)] = 1.0;
      continue;
    }
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += (y[i * C + c] = u(gen));
    for (int64_t c = 0; c < C; ++c) y[i * C + c] /= s;
  }
  return from_double({N, H, W, C}, y);
}

TEST(DiceLoss, MatchesReferenceWithAndWithoutBackground) {
  for (int64_t C : {4, 3, 8})
    for (bool bg : {true, false})
      for (bool soft : {false, true}) {
        const int64_t N = 3, H = 9, W = 7;
        Tensor x = random_tensor({N, H, W, C}, 10 + C, -3.0f, 3.0f);
        Tensor y = make_labels(N, H, W, C, 20 + C, soft);
        NoGradGuard ng;
        const double got = dice_loss(x, y, bg).to_vector()[0];
        EXPECT_TRUE(close_rel(ref_dice_loss(to_double(x), to_double(y), N, H * W, C, bg), got, 1e-5))
            << "C=" << C << " background=" << bg << " soft=" << soft;
      }
}

TEST(DiceLoss, PerfectPredictionIsNearZeroAndGradientsMatch) {
  const int64_t N = 2, H = 5, W = 4, C = 3;
  Tensor y = make_labels(N, H, W, C, 5, false);
  // Logits of +-20 put almost all mass on the labelled class.
  std::vector<float> lv = y.to_vector();
  for (float& v : lv) v = v > 0.5f ? 20.0f : -20.0f;
  {
    NoGradGuard ng;
    EXPECT_LT(dice_loss(Tensor::from_vector({N, H, W, C}, lv), y).to_vector()[0], 1e-5);
  }
  for (bool bg : {true, false}) {
    Tensor x = random_tensor({N, H, W, C}, 6, -2.0f, 2.0f);
    x.set_requires_grad(true);
    Tensor ys = make_labels(N, H, W, C, 7, true);
    const Vec yd = to_double(ys);
    OpCheck r = check_op([&](const std::vector<Tensor>& in) { return dice_loss(in[0], ys, bg); },
                         [&](const std::vector<Vec>& in) { return Vec{ref_dice_loss(in[0], yd, N, H * W, C, bg)}; },
                         {x}, 3);
    EXPECT_LT(r.forward, 1e-5) << r.report();
    EXPECT_LT(r.grad[0], 1e-4) << "background=" << bg << ": " << r.report();
    EXPECT_LT(r.accumulate[0], 1e-6) << r.report();
    EXPECT_LT(r.overwrite[0], 1e-6) << r.report();
  }
}

TEST(WeightedCrossEntropy, MatchesReferenceAndGradients) {
  for (int64_t C : {4, 3, 8}) {
    const int64_t N = 2, H = 6, W = 5;
    const std::vector<float> w = default_class_weights(static_cast<int>(C));
    Tensor x = random_tensor({N, H, W, C}, 30 + C, -3.0f, 3.0f);
    x.set_requires_grad(true);
    Tensor y = make_labels(N, H, W, C, 40 + C, C == 3);
    const Vec yd = to_double(y);
    OpCheck r = check_op([&](const std::vector<Tensor>& in) { return weighted_cross_entropy(in[0], y, w); },
                         [&](const std::vector<Vec>& in) { return Vec{ref_weighted_ce(in[0], yd, N, H * W, C, w)}; },
                         {x}, 4);
    EXPECT_LT(r.forward, 1e-5) << "C=" << C << ": " << r.report();
    EXPECT_LT(r.grad[0], 1e-4) << "C=" << C << ": " << r.report();
    EXPECT_LT(r.accumulate[0], 1e-6) << "C=" << C << ": " << r.report();
    EXPECT_LT(r.overwrite[0], 1e-6) << r.report();
  }
}

TEST(SegmentationLosses, DefaultWeightsAndErrors) {
  EXPECT_EQ(default_class_weights(4), (std::vector<float>{0.1f, 0.3f, 0.3f, 0.3f}));
  EXPECT_EQ(default_class_weights(3), (std::vector<float>{0.1f, 0.45f, 0.45f}));
  const auto w8 = default_class_weights(8);
  ASSERT_EQ(w8.size(), 8u);
  EXPECT_FLOAT_EQ(w8[0], 0.09f);
  for (int c = 1; c < 8; ++c) EXPECT_FLOAT_EQ(w8[c], 0.13f);
  EXPECT_THROW(default_class_weights(5), std::invalid_argument);
  Tensor x = random_tensor({1, 2, 2, 3}, 1);
  EXPECT_THROW(dice_loss(x, random_tensor({1, 2, 2, 4}, 2)), std::invalid_argument);
  EXPECT_THROW(dice_loss(random_tensor({1, 2, 2, 1}, 1), random_tensor({1, 2, 2, 1}, 2), false), std::invalid_argument);
  EXPECT_THROW(weighted_cross_entropy(x, random_tensor({1, 2, 2, 3}, 2), {1.0f, 2.0f}), std::invalid_argument);
}

}  // namespace
}  // namespace cs::test
