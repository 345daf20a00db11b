// CUDA kernel of ops/precision.h: rounding to bf16 through the CUDA conversion (ties to even).
#include <cuda_bf16.h>

#include "ops/cuda/common.cuh"
#include "ops/precision.h"

namespace cs::cuda {
namespace {

__global__ void round_to_bf16_kernel(const float* x, float* y, int64_t n) {
  CS_GRID_STRIDE(i, n) y[i] = __bfloat162float(__float2bfloat16_rn(x[i]));
}

}  // namespace

void round_to_bf16(const Tensor& x, Tensor& y) {
  launch("round_to_bf16_kernel", round_to_bf16_kernel, x.numel(), x.data(), y.data(), x.numel());
}

}  // namespace cs::cuda
