#include "support/parity_values.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace cs::cudatest {

std::vector<float> uniform(int64_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(u(rng));
  return v;
}

double normalized_error(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, scale = 1.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (!std::isfinite(w)) continue;  // the CPU reference itself is not finite here
    if (!std::isfinite(g)) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::fabs(g - w));
    scale = std::max(scale, std::fabs(w));
  }
  return diff / scale;
}

}  // namespace cs::cudatest
