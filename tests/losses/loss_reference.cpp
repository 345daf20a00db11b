#include "losses/loss_reference.h"

#include <algorithm>
#include <cmath>

namespace cs::test {

Vec ref_linear(const Vec& x, int64_t n, int64_t din, const Vec& w, int64_t dout) {
  Vec y(n * dout, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < dout; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < din; ++k) acc += x[i * din + k] * w[o * din + k];
      y[i * dout + o] = acc;
    }
  return y;
}

namespace {
Vec ref_softmax_pixel(const Vec& x, int64_t o, int64_t C) {
  double m = x[o];
  for (int64_t c = 1; c < C; ++c) m = std::max(m, x[o + c]);
  Vec p(C);
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += (p[c] = std::exp(x[o + c] - m));
  for (auto& v : p) v /= s;
  return p;
}
}  // namespace

double ref_dice_loss(const Vec& logits, const Vec& labels, int64_t N, int64_t HW, int64_t C, bool with_background) {
  double total = 0;
  int64_t count = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = with_background ? 0 : 1; c < C; ++c) {
      double inter = 0, sp = 0, sy = 0;
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t o = (n * HW + i) * C;
        const double p = ref_softmax_pixel(logits, o, C)[c];
        inter += p * labels[o + c];
        sp += p;
        sy += labels[o + c];
      }
      total += 2 * inter / (sp + sy + 1e-10);
      ++count;
    }
  return 1.0 - total / count;
}

double ref_weighted_ce(const Vec& logits, const Vec& labels, int64_t N, int64_t HW, int64_t C,
                       const std::vector<float>& w) {
  double total = 0;
  for (int64_t i = 0; i < N * HW; ++i) {
    const int64_t o = i * C;
    const Vec p = ref_softmax_pixel(logits, o, C);
    double wp = 0, ce = 0;
    for (int64_t c = 0; c < C; ++c) {
      wp += w[c] * labels[o + c];
      ce -= labels[o + c] * std::log(p[c]);
    }
    total += wp * ce;
  }
  return total / double(N * HW);
}

}  // namespace cs::test
