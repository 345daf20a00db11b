#pragma once
// Shared plumbing of the CUDA kernels: launch sizes and launches, error checks, scratch buffers
// from the caching allocator, BLAS-style beta stores, NHWC index arithmetic, warp and block
// reductions and per-channel reductions.
#include <cstdint>
#include <string>

#include "autograd/allocator.h"
#include "autograd/cuda_runtime_api.h"
#include "autograd/tensor.h"

namespace cs::cuda {

constexpr int kBlock = 256;  // threads per block of the elementwise kernels

int sm_count();  // multiprocessors of the current device (queried once)

// Blocks for a grid-stride loop over n items: enough to fill the device, never more than needed.
inline int grid_for(int64_t n, int block = kBlock) {
  const int64_t want = (n + block - 1) / block;
  const int64_t cap = static_cast<int64_t>(sm_count()) * (2048 / block);
  return static_cast<int>(want < cap ? (want > 0 ? want : 1) : cap);
}

// Throws with the kernel's name if the last launch failed.
inline void check_launch(const char* kernel) { cuda_check(cudaGetLastError(), kernel); }

// Scratch device memory for one call; freed (back to the cache) at scope exit. Every op runs
// on cuda_stream(), so a block reused by the next op is only touched after this op's kernels.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes) {
    if (bytes_) p_ = device_alloc(Device::CUDA, bytes_);
  }
  ~Scratch() {
    if (p_) device_free(Device::CUDA, p_, bytes_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_ = 0;
  void* p_ = nullptr;
};

#ifdef __CUDACC__
// Grid-stride loop over [0, n) with 64-bit indices.
#define CS_GRID_STRIDE(i, n)                                                             \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// out = beta*out + v with beta in {0,1}; beta 0 never reads out (it may hold garbage).
__device__ __forceinline__ void store_beta(float* out, float v, float beta) {
  *out = beta == 0.0f ? v : beta * *out + v;
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;  // the total is in lane 0
}

__device__ __forceinline__ float warp_allsum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;  // every lane holds the total
}

__device__ __forceinline__ float warp_allmax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The sum of every thread's s over a block of kBlock threads, valid in thread 0.
__device__ __forceinline__ double block_sum(double s) {
  __shared__ double warp_totals[kBlock / 32];
  s = warp_sum(s);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_totals[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = lane < kBlock / 32 ? warp_totals[lane] : 0.0;
    s = warp_sum(s);
  }
  return s;
}

// Coordinates of element i of an NHWC array [N,H,W,C].
struct NhwcIndex {
  int64_t n, h, w, c;
};
__device__ __forceinline__ NhwcIndex nhwc_index(int64_t i, int64_t H, int64_t W, int64_t C) {
  NhwcIndex p;
  p.c = i % C;
  int64_t t = i / C;
  p.w = t % W;
  t /= W;
  p.h = t % H;
  p.n = t / H;
  return p;
}

// Runs a grid-stride kernel over n items on cuda_stream() (nothing when n <= 0) and checks the
// launch; `name` names the kernel in the error.
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), int64_t n, Args... args) {
  if (n <= 0) return;
  kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(args...);
  check_launch(name);
}
#endif

// ---- per-channel sums over the rows of an [M, C] (NHWC flattened) array, in double.
// kind Sum:        s1[c] = sum_r a[r,c]
// kind SumSquares: s1[c] = sum_r a[r,c],  s2[c] = sum_r a[r,c]^2
// kind Centered:   s1[c] = sum_r b[r,c],  s2[c] = sum_r b[r,c] * (a[r,c] - center[c])
// The result is written to sums[0..C) (s1) and sums[C..2C) (s2), on the device. Deterministic:
// blocks write partial sums that one more kernel adds in a fixed order.
enum class ChannelSum { Sum, SumSquares, Centered };
void channel_sums(ChannelSum kind, const float* a, const float* b, const float* center, int64_t M, int64_t C,
                  double* sums);

}  // namespace cs::cuda
