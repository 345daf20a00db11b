#pragma once
// What the CUDA-vs-CPU parity tests (test_ops' parity table, test_gpu's whole steps) share besides
// their fixture (support/cuda_fixture.h): seeded random values and the normalised error
//     err(got, want) = max_i |got_i - want_i| / max(1, max_i |want_i|)
// (a non-finite value where the CPU value is finite counts as an infinite error; a non-finite CPU
// value is skipped).
#include <cstdint>
#include <vector>

namespace cs::cudatest {

// Uniform values in [lo, hi) from a fixed seed.
std::vector<float> uniform(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

double normalized_error(const std::vector<float>& got, const std::vector<float>& want);

}  // namespace cs::cudatest
