#include "io/rng.h"

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace cs {

uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Rng::Rng(uint64_t seed) : seed_(seed), engine_(mix64(seed)) {}

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int Rng::uniform_int(int lo, int hi) {
  if (hi < lo)
    throw std::invalid_argument("Rng::uniform_int: empty range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo) + 1;
  // Rejection sampling: draws in the incomplete top bucket are redrawn, so no value is favoured.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;
  uint64_t r;
  do r = engine_();
  while (r > limit);
  return static_cast<int>(lo + static_cast<int64_t>(r % range));
}

double Rng::normal(double mean, double stddev) {
  double u, v, s;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  return mean + stddev * u * std::sqrt(-2.0 * std::log(s) / s);
}

std::vector<int> Rng::sample_without_replacement(int n, int k) {
  if (k < 0 || k > n)
    throw std::invalid_argument("Rng::sample_without_replacement: cannot draw " + std::to_string(k) +
                                " distinct values from " + std::to_string(n));
  std::vector<int> pool(n);
  std::iota(pool.begin(), pool.end(), 0);
  // Partial Fisher-Yates: the first k entries end up a uniform random k-permutation.
  for (int i = 0; i < k; ++i) std::swap(pool[i], pool[uniform_int(i, n - 1)]);
  pool.resize(k);
  return pool;
}

Rng Rng::split(std::string_view purpose) const {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a over the purpose name
  for (unsigned char c : purpose) h = (h ^ c) * 0x100000001B3ull;
  return Rng(mix64(seed_ ^ mix64(h)));
}

Rng Rng::split(uint64_t purpose) const { return Rng(mix64(seed_ ^ mix64(purpose + 0x51ED27ull))); }

Rng Rng::fork() { return Rng(engine_()); }

}  // namespace cs
