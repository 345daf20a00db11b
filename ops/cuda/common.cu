// Device queries, checks and the per-channel reduction shared by batch norm and the conv bias.
#include <algorithm>
#include <stdexcept>

#include "ops/cuda/common.cuh"

namespace cs::cuda {

int sm_count() {
  static const int n = [] {
    int dev = 0, v = 0;
    cuda_check(cudaGetDevice(&dev), "cudaGetDevice");
    cuda_check(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev),
               "cudaDeviceGetAttribute(MultiProcessorCount)");
    return v > 0 ? v : 1;
  }();
  return n;
}

namespace {

// Block (TX, TY): TX consecutive channels x TY rows, so that a warp reads 32 consecutive floats
// (one row of 32 channels, or 32/TX rows of TX channels when C is small). Each block strides
// over rows and leaves its partial sums in partial[blockIdx.y][2][C].
template <ChannelSum K>
__global__ void channel_partial_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                       const float* __restrict__ center, int64_t M, int64_t C,
                                       double* __restrict__ partial) {
  extern __shared__ double sh[];  // [2][TY][TX]
  const int tx = threadIdx.x, ty = threadIdx.y, TX = blockDim.x, TY = blockDim.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * TX + tx;
  double s1 = 0.0, s2 = 0.0;
  if (c < C) {
    const float ctr = K == ChannelSum::Centered ? center[c] : 0.0f;
    for (int64_t r = static_cast<int64_t>(blockIdx.y) * TY + ty; r < M;
         r += static_cast<int64_t>(gridDim.y) * TY) {
      const float va = a[r * C + c];
      if (K == ChannelSum::Sum) {
        s1 += va;
      } else if (K == ChannelSum::SumSquares) {
        s1 += va;
        s2 += static_cast<double>(va) * va;
      } else {
        const float vb = b[r * C + c];
        s1 += vb;
        s2 += static_cast<double>(vb) * (static_cast<double>(va) - ctr);
      }
    }
  }
  double* sh1 = sh;
  double* sh2 = sh + TX * TY;
  sh1[ty * TX + tx] = s1;
  sh2[ty * TX + tx] = s2;
  __syncthreads();
  for (int s = TY / 2; s > 0; s >>= 1) {  // TY is a power of two
    if (ty < s) {
      sh1[ty * TX + tx] += sh1[(ty + s) * TX + tx];
      sh2[ty * TX + tx] += sh2[(ty + s) * TX + tx];
    }
    __syncthreads();
  }
  if (ty == 0 && c < C) {
    partial[(static_cast<int64_t>(blockIdx.y) * 2) * C + c] = sh1[tx];
    partial[(static_cast<int64_t>(blockIdx.y) * 2 + 1) * C + c] = sh2[tx];
  }
}

// sums[c] and sums[C+c]: the partials of every block row, added in a fixed order.
__global__ void channel_final_kernel(const double* __restrict__ partial, int gy, int64_t C,
                                     double* __restrict__ sums) {
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < C;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double s1 = 0.0, s2 = 0.0;
    for (int g = 0; g < gy; ++g) {
      s1 += partial[(static_cast<int64_t>(g) * 2) * C + c];
      s2 += partial[(static_cast<int64_t>(g) * 2 + 1) * C + c];
    }
    sums[c] = s1;
    sums[C + c] = s2;
  }
}

}  // namespace

void channel_sums(ChannelSum kind, const float* a, const float* b, const float* center, int64_t M, int64_t C,
                  double* sums) {
  if (C <= 0) return;
  if (M <= 0) {
    cuda_check(cudaMemsetAsync(sums, 0, sizeof(double) * 2 * C, cuda_stream()), "channel_sums: memset");
    return;
  }
  int tx = 1;
  while (tx < 32 && tx < C) tx *= 2;
  const int ty = kBlock / tx;
  const int64_t gx = (C + tx - 1) / tx;
  if (gx > 2147483647LL) throw std::invalid_argument("channel_sums: too many channels");
  const int64_t target = std::max<int64_t>(1, static_cast<int64_t>(sm_count()) * 8 / gx);
  const int gy = static_cast<int>(std::min<int64_t>({(M + ty - 1) / ty, target, 1024}));
  Scratch partial(sizeof(double) * 2 * C * gy);
  const dim3 block(tx, ty), grid(static_cast<unsigned>(gx), gy);
  const size_t shmem = sizeof(double) * 2 * kBlock;
  cudaStream_t s = cuda_stream();
  double* p = partial.as<double>();
  switch (kind) {
    case ChannelSum::Sum:
      channel_partial_kernel<ChannelSum::Sum><<<grid, block, shmem, s>>>(a, b, center, M, C, p);
      break;
    case ChannelSum::SumSquares:
      channel_partial_kernel<ChannelSum::SumSquares><<<grid, block, shmem, s>>>(a, b, center, M, C, p);
      break;
    case ChannelSum::Centered:
      channel_partial_kernel<ChannelSum::Centered><<<grid, block, shmem, s>>>(a, b, center, M, C, p);
      break;
  }
  check_launch("channel_partial_kernel");
  channel_final_kernel<<<grid_for(C), kBlock, 0, s>>>(p, gy, C, sums);
  check_launch("channel_final_kernel");
}

}  // namespace cs::cuda
