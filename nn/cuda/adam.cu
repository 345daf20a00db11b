// Adam on the GPU: the same update as cpu::adam_step (nn/adam.h), one thread per float.
#include "autograd/cuda_runtime_api.h"
#include "nn/adam.h"

namespace cs {
namespace {
__global__ void adam_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v, int64_t n, float lr_t, float beta1, float beta2, float eps) {
  const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + a1 * gi;
    const float vi = beta2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr_t * mi / (sqrtf(vi) + eps);
  }
}
}  // namespace

void cuda::adam_step(float* w, const float* g, float* m, float* v, int64_t n, float lr_t, float beta1, float beta2,
                     float eps) {
  if (n <= 0) return;
  const int threads = 256;
  const int64_t want = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 4096 ? want : 4096);
  adam_kernel<<<blocks, threads, 0, cuda_stream()>>>(w, g, m, v, n, lr_t, beta1, beta2, eps);
  cuda_check(cudaGetLastError(), "adam_kernel launch");
}

}  // namespace cs
