#include "io/augmentation/sampler.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace cs {

namespace {

void check_counts(const std::vector<int>& counts, const char* who) {
  if (counts.empty()) throw std::invalid_argument(std::string(who) + ": no volumes to sample from");
  for (size_t v = 0; v < counts.size(); ++v)
    if (counts[v] <= 0)
      throw std::invalid_argument(std::string(who) + ": volume " + std::to_string(v) + " has " +
                                  std::to_string(counts[v]) + " slices");
}

}  // namespace

std::pair<int, int> partition_range(int num_slices, int num_partitions, int k) {
  if (num_partitions <= 0 || k < 0 || k >= num_partitions)
    throw std::invalid_argument("partition_range: partition " + std::to_string(k) + " of " +
                                std::to_string(num_partitions));
  if (num_slices < num_partitions)
    throw std::invalid_argument("partition_range: a volume of " + std::to_string(num_slices) +
                                " slices cannot be split into " + std::to_string(num_partitions) +
                                " non-empty partitions");
  const int len = num_slices / num_partitions;
  return {k * len, (k + 1) * len};
}

std::vector<SliceRef> sample_partitioned(const std::vector<int>& counts, int num_volumes,
                                         int num_partitions, Rng& rng) {
  check_counts(counts, "sample_partitioned");
  if (num_volumes <= 0 || num_volumes > static_cast<int>(counts.size()))
    throw std::invalid_argument("sample_partitioned: " + std::to_string(num_volumes) +
                                " distinct volumes requested from " + std::to_string(counts.size()));
  std::vector<SliceRef> out;
  out.reserve(static_cast<size_t>(num_volumes) * num_partitions);
  for (int v : rng.sample_without_replacement(static_cast<int>(counts.size()), num_volumes)) {
    for (int k = 0; k < num_partitions; ++k) {
      auto [b, e] = partition_range(counts[v], num_partitions, k);
      out.push_back({v, rng.uniform_int(b, e - 1), k});
    }
  }
  return out;
}

std::vector<SliceRef> sample_uniform_slices(const std::vector<int>& counts, int n, Rng& rng) {
  check_counts(counts, "sample_uniform_slices");
  if (n < 0) throw std::invalid_argument("sample_uniform_slices: negative count");
  std::vector<int64_t> start(counts.size() + 1, 0);  // prefix sums: global slice index -> volume
  for (size_t v = 0; v < counts.size(); ++v) start[v + 1] = start[v] + counts[v];
  const int64_t total = start.back();
  if (total > INT32_MAX) throw std::invalid_argument("sample_uniform_slices: too many slices");
  std::vector<SliceRef> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    const int64_t g = rng.uniform_int(0, static_cast<int>(total - 1));
    size_t v = std::upper_bound(start.begin(), start.end(), g) - start.begin() - 1;
    out.push_back({static_cast<int>(v), static_cast<int>(g - start[v]), -1});
  }
  return out;
}

}  // namespace cs
