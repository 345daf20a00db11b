#pragma once
// Small building blocks shared by the CPU kernels: BLAS-style beta stores, a threading
// threshold and per-channel reductions over NHWC rows. (Shapes are checked by the wrappers.)
#include <omp.h>

#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace cs::cpu::detail {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

// out = beta*out + v, without reading `out` when beta == 0 (it may hold garbage, even NaN).
inline void store(float* out, float v, float beta) { *out = beta == 0.0f ? v : beta * *out + v; }

// Element access for the kernels templated on the activation type T (float or bf16): the
// arithmetic is float either way; a bf16 result is rounded once, when it is written.
inline float load(const float* p) { return *p; }
inline float load(const bf16* p) { return to_float(*p); }
inline void put(float* p, float v) { *p = v; }
inline void put(bf16* p, float v) { *p = to_bf16(v); }
inline void store(bf16* out, float v, float beta) { put(out, beta == 0.0f ? v : beta * load(out) + v); }

// A kernel body instantiated for the tensor's element type: fn(static_cast<T*>(nullptr)) with
// T = float or bf16.
template <class Fn>
decltype(auto) with_type(DType t, Fn&& fn) {
  if (t == DType::BF16) return fn(static_cast<bf16*>(nullptr));
  return fn(static_cast<float*>(nullptr));
}

// Per-channel sums over the rows of a [rows, C] array, in double. Each thread takes one
// contiguous range of rows and calls range_fn(r0, r1, acc), which adds the contribution of rows
// [r0, r1) into its private acc[0 .. n_out*C); the partial sums are added at the end in thread
// order, so the result does not depend on scheduling.
template <class RangeFn>
std::vector<double> channel_sums(int64_t rows, int64_t C, int n_out, RangeFn range_fn) {
  const int T = rows * C >= kParallelMin ? omp_get_max_threads() : 1;
  const size_t width = static_cast<size_t>(n_out) * C;
  std::vector<double> part(static_cast<size_t>(T) * width, 0.0);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    range_fn(r0, r1, part.data() + t * width);
  }
  std::vector<double> total(width, 0.0);
  for (int t = 0; t < T; ++t)
    for (size_t i = 0; i < width; ++i) total[i] += part[t * width + i];
  return total;
}

}  // namespace cs::cpu::detail
