// bf16_rounded and the bf16 capabilities (ops/precision.h).
#include "ops/precision.h"

#include "ops/dispatch.h"

namespace cs {

Tensor bf16_rounded(const Tensor& x) {
  check_defined(x, "bf16_rounded");
  Tensor y = Tensor::empty(x.shape(), x.device());
  CS_DISPATCH(x.device(), round_to_bf16, x, y);
  return y;
}

bool native_bf16(Device d) { return d == Device::CPU && cpu_bf16().native; }

std::string bf16_description(Device d) {
  if (d == Device::CUDA) return "bf16: emulated (bf16-rounded operands through the fp32 cuDNN/cuBLAS kernels)";
  const CpuBf16 c = cpu_bf16();
  if (c.native) return "bf16: native (oneDNN " + c.isa + ")";
  return "bf16: emulated: this CPU (" + cpu_model() + ") has neither AVX512-BF16 nor AMX (oneDNN " + c.isa +
         "), so bf16-rounded operands run through the fp32 kernels: bf16 numerics, no speed-up";
}

}  // namespace cs
