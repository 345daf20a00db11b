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
    const NhwcIndex o = nhwc_index(i, OH, OW, C);
    const int64_t h0 = 2 * o.h, w0 = 2 * o.w;
    const float* base = x + ((o.n * H + h0) * W + w0) * C + o.c;
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
    const NhwcIndex o = nhwc_index(i, OH, OW, C);
    const float m = y[i], g = dy[i];
    bool routed = false;
    for (int a = 0; a < 2; ++a) {
      const int64_t h = 2 * o.h + a;
      if (h >= H) break;
      for (int b = 0; b < 2; ++b) {
        const int64_t w = 2 * o.w + b;
        if (w >= W) break;
        const int64_t k = ((o.n * H + h) * W + w) * C + o.c;
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
    const NhwcIndex o = nhwc_index(i, OH, OW, C);
    y[i] = x[((o.n * H + o.h / 2) * W + o.w / 2) * C + o.c];
  }
}

// dx [N,H,W,C]: one thread per dx element adds its 2x2 block of dy.
__global__ void upsample_backward_kernel(const float* __restrict__ dy, float* dx, float beta, int64_t N,
                                         int64_t H, int64_t W, int64_t C) {
  const int64_t n_in = N * H * W * C;
  const int64_t row = 2 * W * C;  // one row of dy
  CS_GRID_STRIDE(i, n_in) {
    const NhwcIndex e = nhwc_index(i, H, W, C);
    const float* p = dy + ((e.n * 2 * H + 2 * e.h) * 2 * W + 2 * e.w) * C + e.c;
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
  launch("maxpool_kernel", maxpool_kernel, y.numel(), x.data(), y.data(), N, H, W, C, (H + 1) / 2, (W + 1) / 2);
}

void maxpool2x2_backward(const Tensor& x, const Tensor& y, const Tensor& dy, float* dx, float beta) {
  if (!dx) return;
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  launch("maxpool_backward_kernel", maxpool_backward_kernel, y.numel(), x.data(), y.data(), dy.data(), dx, beta,
         N, H, W, C, (H + 1) / 2, (W + 1) / 2);
}

void upsample2x_forward(const Tensor& x, Tensor& y) {
  launch("upsample_kernel", upsample_kernel, y.numel(), x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
}

void upsample2x_backward(const Tensor& dy, float* dx, float beta, const Shape& x_shape) {
  if (!dx) return;
  launch("upsample_backward_kernel", upsample_backward_kernel, shape_numel(x_shape), dy.data(), dx, beta,
         x_shape[0], x_shape[1], x_shape[2], x_shape[3]);
}

void concat_channels_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  const int64_t rows = a.dim(0) * a.dim(1) * a.dim(2);
  launch("concat_kernel", concat_kernel, y.numel(), a.data(), b.data(), y.data(), rows, a.dim(3), b.dim(3));
}

void concat_channels_backward(const Tensor& dy, int64_t ca, float* da, float beta_a, float* db,
                              float beta_b) {
  const int64_t cy = dy.dim(3), n = dy.numel();
  if (n == 0 || (!da && !db)) return;
  launch("concat_backward_kernel", concat_backward_kernel, n, dy.data(), n / cy, ca, cy - ca, da, beta_a, db,
         beta_b);
}

}  // namespace cs::cuda
