#pragma once
// Declares the CPU kernels (always) and the CUDA kernels (when compiled in), with the same
// signatures: see ops/kernels.inc.
#include "autograd/tensor.h"

namespace cs::cpu {
#include "ops/kernels.inc"
}  // namespace cs::cpu

#ifdef CONTRASEG_CUDA
namespace cs::cuda {
#include "ops/kernels.inc"
}  // namespace cs::cuda
#endif
