#pragma once
// Inputs of the micro-benchmarks: tensors of seeded normal values (the same values on every run).
#include <cstdint>
#include <random>
#include <vector>

#include "autograd/device.h"
#include "autograd/tensor.h"

namespace cs::bench {

// shape -> values drawn from N(mean, sd^2) by a generator seeded with `seed`, on `dev`.
inline Tensor random_normal(const Shape& shape, uint64_t seed, float mean, float sd, Device dev = Device::CPU) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(mean, sd);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(g);
  return Tensor::from_vector(shape, v, dev);
}

}  // namespace cs::bench
