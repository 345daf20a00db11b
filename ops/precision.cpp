// bf16_rounded and the bf16 capabilities (ops/precision.h).
#include "ops/precision.h"

#include <stdexcept>
#include <string>

#include "autograd/record_op.h"
#include "ops/dispatch.h"

namespace cs {

Tensor cast(const Tensor& x, DType t) {
  check_defined(x, "cast");
  if (x.dtype() == t) return x;
  if (x.device() != Device::CPU)
    throw std::invalid_argument(std::string("cast: ") + device_name(x.device()) + " tensors are fp32 only");
  Tensor y = Tensor::empty(x.shape(), x.device(), t);
  return record_op({"cast"}, {x}, y, [&] { cpu::convert(x.raw(), x.dtype(), y.raw(), t, x.numel(), 0.0f); },
                   [x](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     if (dx.wanted()) cpu::convert(dy.raw(), dy.dtype(), dx.raw(), x.dtype(), x.numel(), dx.beta);
                   });
}

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
