#pragma once
// A small deterministic random number generator for sampling, augmentation and phantoms.
//
// The engine is std::mt19937_64 (its output sequence is fixed by the C++ standard); every
// distribution is computed here rather than with <random>'s distributions, whose algorithms
// differ between standard libraries. So a seed gives the same numbers on every platform.
//
// Streams for different purposes are split from a seed: `split("crop")` derives a new,
// independent generator from this generator's seed and a purpose name (not from its state), so
// adding draws to one purpose never shifts the numbers of another.
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace cs {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t seed() const { return seed_; }
  uint64_t next_u64() { return engine_(); }

  double uniform();                            // [0, 1), 53 random bits
  double uniform(double lo, double hi);        // [lo, hi)
  int uniform_int(int lo, int hi);             // integers in [lo, hi], both ends included, unbiased
  double normal(double mean = 0.0, double stddev = 1.0);  // Marsaglia polar method
  bool bernoulli(double p) { return uniform() < p; }

  // k distinct integers from [0, n), in draw order (like Python's random.sample(range(n), k)).
  std::vector<int> sample_without_replacement(int n, int k);

  // Independent generators derived from the seed (not the state) and a purpose.
  Rng split(std::string_view purpose) const;
  Rng split(uint64_t purpose) const;
  // A generator seeded from this one's next output (advances this generator).
  Rng fork();

 private:
  uint64_t seed_;
  std::mt19937_64 engine_;
};

// splitmix64 finaliser: a good 64-bit mix, used to derive seeds.
uint64_t mix64(uint64_t x);

}  // namespace cs
