// CPU side of ops/precision.h: rounding to bf16, and oneDNN's view of the instruction set.
#include <oneapi/dnnl/dnnl.hpp>

#include <type_traits>

#include "ops/cpu/common.h"
#include "ops/precision.h"

namespace cs {

CpuBf16 cpu_bf16() {
  using isa = dnnl::cpu_isa;
  static const CpuBf16 result = [] {
    switch (dnnl::get_effective_cpu_isa()) {
      case isa::sse41: return CpuBf16{"sse41", false};
      case isa::avx: return CpuBf16{"avx", false};
      case isa::avx2: return CpuBf16{"avx2", false};
      case isa::avx2_vnni: return CpuBf16{"avx2_vnni", false};
      case isa::avx512_core: return CpuBf16{"avx512_core", false};
      case isa::avx512_core_vnni: return CpuBf16{"avx512_core_vnni", false};
      case isa::avx512_core_bf16: return CpuBf16{"avx512_core_bf16", true};
      case isa::avx512_core_amx: return CpuBf16{"avx512_core_amx", true};
      default: return CpuBf16{"other", false};
    }
  }();
  return result;
}

namespace cpu {

// x, y: one shape; y = round_to_bf16(x)
void round_to_bf16(const Tensor& x, Tensor& y) {
  const float* px = x.data();
  float* py = y.data();
  const int64_t n = x.numel();
#pragma omp parallel for simd if (n >= detail::kParallelMin)
  for (int64_t i = 0; i < n; ++i) py[i] = cs::round_to_bf16(px[i]);
}

namespace {
template <class From, class To>
void convert_as(const From* __restrict src, To* __restrict dst, int64_t n, float beta) {
  if (beta == 0.0f) {
#pragma omp parallel for simd if (n >= detail::kParallelMin)
    for (int64_t i = 0; i < n; ++i) detail::put(dst + i, detail::load(src + i));
  } else {
#pragma omp parallel for simd if (n >= detail::kParallelMin)
    for (int64_t i = 0; i < n; ++i) detail::put(dst + i, beta * detail::load(dst + i) + detail::load(src + i));
  }
}
}  // namespace

// src, dst: n elements of types from and to; dst = beta*dst + src, rounded to `to`.
void convert(const void* src, DType from, void* dst, DType to, int64_t n, float beta) {
  detail::with_type(from, [&](auto* f) {
    using From = std::remove_pointer_t<decltype(f)>;
    detail::with_type(to, [&](auto* t) {
      using To = std::remove_pointer_t<decltype(t)>;
      convert_as(static_cast<const From*>(src), static_cast<To*>(dst), n, beta);
    });
  });
}

}  // namespace cpu
}  // namespace cs
