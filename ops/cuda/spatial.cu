// 2x2 max pool (TF SAME), nearest x2 upsample and channel concat, NHWC. One thread per element
// of the smaller side of each map, with consecutive threads on consecutive channels (coalesced).
#include <stdexcept>

#include "ops/cuda/common.cuh"
#include "ops/spatial.h"

namespace cs::cuda {
namespace {

// y [N,OH,OW,C], OH = ceil(H/2): max over the in-range part of the 2x2 window.
__global__ void maxpool_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t N, int64_t H,
                               int64_t W, int64_t C, int64_t OH, int64_t OW) {
  const int64_t n_out = N * OH * OW * C;
  CS_GRID_STRIDE(i, n_out) {
    const int64_t c = i % C;
    int64_t t = i / C;
    const int64_t ow = t % OW;
    t /= OW;
    const int64_t oh = t % OH;
    const int64_t n = t / OH;
    const int64_t h0 = 2 * oh, w0 = 2 * ow;
    const float* base = x + ((n * H + h0) * W + w0) * C + c;
    float m = base[0];
    if (w0 + 1 < W) m = fmaxf(m, base[C]);
    if (h0 + 1 < H) {
      m = fmaxf(m, base[W * C]);
      if (w0 + 1 < W) m = fmaxf(m, base[W * C + C]);
    }
    y[i] = m;
  }
}

// Windows do not overlap and cover x: each thread writes its whole window of dx, routing dy to
// the first element (row-major) equal to the max and zero to the others.
__global__ void maxpool_backward_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                        const float* __restrict__ dy, float* dx, float beta, int64_t N,
                                        int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW) {
  const int64_t n_out = N * OH * OW * C;
  CS_GRID_STRIDE(i, n_out) {
    const int64_t c = i % C;
    int64_t t = i / C;
    const int64_t ow = t % OW;
    t /= OW;
    const int64_t oh = t % OH;
    const int64_t n = t / OH;
    const float m = y[i], g = dy[i];
    bool routed = false;
    for (int a = 0; a < 2; ++a) {
      const int64_t h = 2 * oh + a;
      if (h >= H) break;
      for (int b = 0; b < 2; ++b) {
        const int64_t w = 2 * ow + b;
        if (w >= W) break;
        const int64_t k = ((n * H + h) * W + w) * C + c;
        const bool take = !routed && x[k] == m;
        routed = routed || take;
        store_beta(&dx[k], take ? g : 0.0f, beta);
      }
    }
  }
}

// y [N,2H,2W,C]: one thread per y element.
__global__ void upsample_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t N, int64_t H,
                                int64_t W, int64_t C) {
  const int64_t OW = 2 * W, OH = 2 * H;
  const int64_t n_out = N * OH * OW * C;
  CS_GRID_STRIDE(i, n_out) {
    const int64_t c = i % C;
    int64_t t = i / C;
    const int64_t ow = t % OW;
    t /= OW;
    const int64_t oh = t % OH;
    const int64_t n = t / OH;
    y[i] = x[((n * H + oh / 2) * W + ow / 2) * C + c];
  }
}

// dx [N,H,W,C]: one thread per dx element adds its 2x2 block of dy.
__global__ void upsample_backward_kernel(const float* __restrict__ dy, float* dx, float beta, int64_t N,
                                         int64_t H, int64_t W, int64_t C) {
  const int64_t n_in = N * H * W * C;
  const int64_t row = 2 * W * C;  // one row of dy
  CS_GRID_STRIDE(i, n_in) {
    const int64_t c = i % C;
    int64_t t = i / C;
    const int64_t w = t % W;
    t /= W;
    const int64_t h = t % H;
    const int64_t n = t / H;
    const float* p = dy + ((n * 2 * H + 2 * h) * 2 * W + 2 * w) * C + c;
    store_beta(&dx[i], (p[0] + p[C]) + (p[row] + p[row + C]), beta);
  }
}

__global__ void concat_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                              int64_t rows, int64_t ca, int64_t cb) {
  const int64_t cy = ca + cb;
  CS_GRID_STRIDE(i, rows * cy) {
    const int64_t r = i / cy, c = i % cy;
    y[i] = c < ca ? a[r * ca + c] : b[r * cb + (c - ca)];
  }
}

__global__ void concat_backward_kernel(const float* __restrict__ dy, int64_t rows, int64_t ca, int64_t cb,
                                       float* da, float beta_a, float* db, float beta_b) {
  const int64_t cy = ca + cb;
  CS_GRID_STRIDE(i, rows * cy) {
    const int64_t r = i / cy, c = i % cy;
    if (c < ca) {
      if (da) store_beta(&da[r * ca + c], dy[i], beta_a);
    } else if (db) {
      store_beta(&db[r * cb + (c - ca)], dy[i], beta_b);
    }
  }
}

}  // namespace

void maxpool2x2_forward(const Tensor& x, Tensor& y) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const int64_t OH = (H + 1) / 2, OW = (W + 1) / 2;
  const int64_t n = y.numel();
  if (n == 0) return;
  maxpool_kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(x.data(), y.data(), N, H, W, C, OH, OW);
  check_launch("maxpool_kernel");
}

void maxpool2x2_backward(const Tensor& x, const Tensor& y, const Tensor& dy, float* dx, float beta) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const int64_t OH = (H + 1) / 2, OW = (W + 1) / 2;
  const int64_t n = y.numel();
  if (n == 0 || !dx) return;
  maxpool_backward_kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(x.data(), y.data(), dy.data(), dx, beta,
                                                                     N, H, W, C, OH, OW);
  check_launch("maxpool_backward_kernel");
}

void upsample2x_forward(const Tensor& x, Tensor& y) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const int64_t n = y.numel();
  if (n == 0) return;
  upsample_kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(x.data(), y.data(), N, H, W, C);
  check_launch("upsample_kernel");
}

void upsample2x_backward(const Tensor& dy, float* dx, float beta, const Shape& x_shape) {
  const int64_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3];
  const int64_t n = shape_numel(x_shape);
  if (n == 0 || !dx) return;
  upsample_backward_kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(dy.data(), dx, beta, N, H, W, C);
  check_launch("upsample_backward_kernel");
}

void concat_channels_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  const int64_t ca = a.dim(3), cb = b.dim(3);
  const int64_t rows = a.dim(0) * a.dim(1) * a.dim(2);
  const int64_t n = y.numel();
  if (n == 0) return;
  concat_kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(a.data(), b.data(), y.data(), rows, ca, cb);
  check_launch("concat_kernel");
}

void concat_channels_backward(const Tensor& dy, int64_t ca, float* da, float beta_a, float* db,
                              float beta_b) {
  const int64_t cy = dy.dim(3);
  const int64_t n = dy.numel();
  if (n == 0 || (!da && !db)) return;
  const int64_t rows = n / cy;
  concat_backward_kernel<<<grid_for(n), kBlock, 0, cuda_stream()>>>(dy.data(), rows, ca, cy - ca, da, beta_a,
                                                                    db, beta_b);
  check_launch("concat_backward_kernel");
}

}  // namespace cs::cuda
