#include "nn/init.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace cs {

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

double uniform01(std::mt19937_64& rng) {  // (0, 1]: never 0, so log() is finite
  return (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
}

void fill_normal(std::vector<float>& v, double stddev, std::mt19937_64& rng) {
  const double two_pi = 6.283185307179586476925286766559;
  for (size_t i = 0; i < v.size(); i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform01(rng)));
    const double t = two_pi * uniform01(rng);
    v[i] = static_cast<float>(stddev * r * std::cos(t));
    if (i + 1 < v.size()) v[i + 1] = static_cast<float>(stddev * r * std::sin(t));
  }
}

void fill_uniform(std::vector<float>& v, double limit, std::mt19937_64& rng) {
  for (auto& x : v) x = static_cast<float>(limit * (2.0 * uniform01(rng) - 1.0));
}

uint64_t seed_for(uint64_t seed, const std::string& key) {
  // splitmix64 of the combination, so nearby keys give unrelated streams
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + fnv1a64(key);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void init_one(Tensor& t, const ParamEntry& e, const InitOptions& opt) {
  std::vector<float> v(static_cast<size_t>(e.numel), 0.0f);
  switch (e.kind) {
    case ParamKind::ConvWeight: {
      if (e.shape.size() != 4)
        throw std::invalid_argument("init: conv weight '" + e.name + "' must be [Cout,KH,KW,Cin], got " +
                                    shape_str(e.shape));
      const double fan_in = static_cast<double>(e.shape[1] * e.shape[2] * e.shape[3]);
      std::mt19937_64 rng(seed_for(opt.seed, opt.same_init_for_same_shape ? "conv" + shape_str(e.shape) : e.name));
      fill_normal(v, std::sqrt(2.0 / fan_in), rng);
      break;
    }
    case ParamKind::DenseWeight: {
      if (e.shape.size() != 2)
        throw std::invalid_argument("init: dense weight '" + e.name + "' must be [Dout,Din], got " +
                                    shape_str(e.shape));
      std::mt19937_64 rng(seed_for(opt.seed, e.name));
      fill_uniform(v, std::sqrt(6.0 / static_cast<double>(e.shape[0] + e.shape[1])), rng);
      break;
    }
    case ParamKind::BNGamma: std::fill(v.begin(), v.end(), 1.0f); break;
    case ParamKind::BNVar: std::fill(v.begin(), v.end(), opt.bn_running_var); break;
    case ParamKind::ConvBias:
    case ParamKind::BNBeta:
    case ParamKind::BNMean: break;  // zeros
  }
  t.copy_from(Tensor::from_vector(e.shape, v));
}

}  // namespace

void init_params(ParamStore& store, const InitOptions& opt) {
  if (!store.allocated()) throw std::logic_error("init_params: ParamStore not allocated");
  for (size_t i = 0; i < store.num_params(); ++i) init_one(store.param_at(i), store.param_entry(i), opt);
  for (size_t i = 0; i < store.num_buffers(); ++i) init_one(store.buffer_at(i), store.buffer_entry(i), opt);
}

}  // namespace cs
