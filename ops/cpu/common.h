#pragma once
// Small building blocks shared by the CPU kernels: BLAS-style beta stores, a threading
// threshold, per-channel reductions over NHWC rows, and kernel-level argument checks.
#include <omp.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace cs::cpu::detail {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

// out = beta*out + v, without reading `out` when beta == 0 (it may hold garbage, even NaN).
inline void store(float* out, float v, float beta) { *out = beta == 0.0f ? v : beta * *out + v; }

// Kernel argument checks (the kernels can be called directly, not only through ops/*.cpp).
inline void require(bool ok, const char* kernel, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string("cpu::") + kernel + ": " + what);
}
inline void require_cpu(const Tensor& t, const char* kernel, const char* name) {
  require(t.defined(), kernel, std::string(name) + " is undefined");
  require(t.device() == Device::CPU, kernel, std::string(name) + " is not on the cpu");
}
inline void require_shape(const Tensor& t, const Shape& s, const char* kernel, const char* name) {
  require_cpu(t, kernel, name);
  require(t.shape() == s, kernel,
          std::string(name) + " has shape " + shape_str(t.shape()) + ", expected " + shape_str(s));
}

// Per-channel sums over the rows of a [rows, C] array, in double: acc[c] += sum_r f(r, c).
// `row_fn(r, acc)` adds row r's contribution into acc[0..C). Threads keep private partial
// sums which are added at the end, so the result does not depend on scheduling order beyond
// the fixed static partition.
template <class RowFn>
std::vector<double> channel_sums(int64_t rows, int64_t C, int n_out, RowFn row_fn) {
  const int T = rows * C >= kParallelMin ? omp_get_max_threads() : 1;
  std::vector<double> part(static_cast<size_t>(T) * n_out * C, 0.0);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    double* acc = part.data() + static_cast<size_t>(t) * n_out * C;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) row_fn(r, acc);
  }
  std::vector<double> total(static_cast<size_t>(n_out) * C, 0.0);
  for (int t = 0; t < T; ++t)
    for (size_t i = 0; i < total.size(); ++i) total[i] += part[t * total.size() + i];
  return total;
}

}  // namespace cs::cpu::detail
