#pragma once
// Calls the CPU or CUDA implementation of a kernel from ops/kernels.inc, by device.
#include <stdexcept>

#include "ops/kernels.h"

namespace cs {
[[noreturn]] inline void no_cuda_backend() {
  throw std::runtime_error("tensor on cuda, but this build has no CUDA backend");
}
}  // namespace cs

#ifdef CONTRASEG_CUDA
#define CS_DISPATCH(dev, fn, ...) \
  ((dev) == ::cs::Device::CUDA ? ::cs::cuda::fn(__VA_ARGS__) : ::cs::cpu::fn(__VA_ARGS__))
#else
#define CS_DISPATCH(dev, fn, ...) \
  ((dev) == ::cs::Device::CUDA ? ::cs::no_cuda_backend() : ::cs::cpu::fn(__VA_ARGS__))
#endif
