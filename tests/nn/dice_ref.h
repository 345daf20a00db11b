#pragma once
// The soft Dice loss with background of SPEC 4.2, as a CPU tape node for the nn tests (the real
// loss lives in losses/): p [N,H,W,C] probabilities, y one-hot (or soft) labels of the same shape,
//   loss = 1 - mean over (n, c) of 2 sum_hw(p y) / (sum_hw p + sum_hw y + 1e-10).
// d loss / d p[n,hw,c] = -2/(N C) * (y S - I) / S^2 with I = sum(p y), S = sum p + sum y + 1e-10.
#include <vector>

#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs::testing_nn {

inline Tensor soft_dice_ref(const Tensor& p, const Tensor& y) {
  check_shape(y, p.shape(), "soft_dice_ref", "labels");
  const int64_t N = p.dim(0), C = p.dim(-1), P = p.numel() / (N * C);
  std::vector<double> I(N * C, 0.0), S(N * C, 1e-10);
  const std::vector<float> pv = p.to_vector(), yv = y.to_vector();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < P; ++i)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = (n * P + i) * C + c;
        I[n * C + c] += static_cast<double>(pv[k]) * yv[k];
        S[n * C + c] += static_cast<double>(pv[k]) + yv[k];
      }
  double d = 0;
  for (int64_t j = 0; j < N * C; ++j) d += 2.0 * I[j] / S[j];
  Tensor loss = Tensor::full({1}, static_cast<float>(1.0 - d / static_cast<double>(N * C)));
  auto& tape = Tape::get();
  if (tape.should_record({&p}))
    tape.record("soft_dice_ref", {p}, loss, [p, yv, loss, I, S, N, C, P]() mutable {
      const double g = loss.grad().to_vector()[0] * -2.0 / static_cast<double>(N * C);
      std::vector<float> dp(static_cast<size_t>(p.numel()));
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < P; ++i)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t k = (n * P + i) * C + c, j = n * C + c;
            dp[k] = static_cast<float>(g * (yv[k] / S[j] - I[j] / (S[j] * S[j])));
          }
      float beta = 0;
      float* out = p.grad_for_write(&beta);
      std::vector<float> prev(dp.size(), 0.0f);
      Tensor gt(p.impl()->grad);
      if (beta != 0.0f) prev = gt.to_vector();
      for (size_t k = 0; k < dp.size(); ++k) dp[k] += prev[k];
      (void)out;
      gt.copy_from(Tensor::from_vector(p.shape(), dp));
    });
  return loss;
}

}  // namespace cs::testing_nn
