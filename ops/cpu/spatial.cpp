// CPU spatial kernels on NHWC tensors: 2x2 max pool (TF SAME), nearest x2 upsample, channel
// concat. Each parallel loop runs over (n, output row) so every thread streams whole rows.
// Every kernel is a template on the element type T (float or bf16): the values move unchanged
// (a max, a copy), and the sums of the backward are float, rounded once when a bf16 is written.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/cpu/common.h"
#include "ops/spatial.h"

namespace cs::cpu {

using detail::kParallelMin;
using detail::load;
using detail::put;

namespace {

// dst[0..n) = src[0..n): a loop the compiler inlines and vectorises. The rows copied here are
// 16-256 channels, too short for a call to memcpy to pay for itself.
template <class T>
inline void copy_row(const T* __restrict src, int64_t n, T* __restrict dst) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// The elements of t as T (the caller has matched T to t's type).
template <class T>
const T* elements(const Tensor& t) {
  if constexpr (std::is_same_v<T, bf16>) return t.data_bf16();
  else return t.data();
}
template <class T>
T* elements(Tensor& t) {
  if constexpr (std::is_same_v<T, bf16>) return t.data_bf16();
  else return t.data();
}

// x [N,H,W,C] -> y [N,ceil(H/2),ceil(W/2),C]. SAME padding for an odd size adds the missing
// row/column at the bottom/right, and padding never wins the max.
template <class T>
void maxpool_forward(const Tensor& x, Tensor& y) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const int64_t Ho = (H + 1) / 2, Wo = (W + 1) / 2;
  const T* px = elements<T>(x);
  T* py = elements<T>(y);
#pragma omp parallel for collapse(2) if (x.numel() >= kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < Ho; ++i) {
      const int64_t h0 = 2 * i, nh = std::min<int64_t>(2, H - h0);
      for (int64_t j = 0; j < Wo; ++j) {
        const int64_t w0 = 2 * j, nw = std::min<int64_t>(2, W - w0);
        T* out = py + ((n * Ho + i) * Wo + j) * C;
        const T* first = px + ((n * H + h0) * W + w0) * C;
        copy_row(first, C, out);
        for (int64_t dh = 0; dh < nh; ++dh)
          for (int64_t dw = 0; dw < nw; ++dw) {
            if (dh == 0 && dw == 0) continue;
            const T* in = px + ((n * H + h0 + dh) * W + w0 + dw) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
              const float v = load(in + c), m = load(out + c);
              if constexpr (std::is_same_v<T, bf16>) out[c].bits = v > m ? in[c].bits : out[c].bits;
              else out[c] = v > m ? v : m;
            }
          }
      }
    }
}

// One full 2x2 window, channels vectorised: x0..x3 are its elements in row-major order, m the
// window's max, g its gradient. The first element equal to m takes g, the others 0.
template <bool Accumulate, class T>
void full_window(const T* __restrict x0, const T* __restrict x1, const T* __restrict x2,
                 const T* __restrict x3, const T* __restrict m, const T* __restrict g,
                 T* __restrict d0, T* __restrict d1, T* __restrict d2, T* __restrict d3,
                 int64_t C, float beta) {
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) {
    const float mc = load(m + c), gc = load(g + c);
    // Non-short-circuit & and |: a && chain becomes branches and stops the vectoriser.
    const bool e0 = load(x0 + c) == mc, e1 = load(x1 + c) == mc, e2 = load(x2 + c) == mc, e3 = load(x3 + c) == mc;
    const float v0 = e0 ? gc : 0.0f;
    const float v1 = (e1 & !e0) ? gc : 0.0f;
    const float v2 = (e2 & !(e0 | e1)) ? gc : 0.0f;
    const float v3 = (e3 & !(e0 | e1 | e2)) ? gc : 0.0f;
    if constexpr (Accumulate) {
      put(d0 + c, beta * load(d0 + c) + v0);
      put(d1 + c, beta * load(d1 + c) + v1);
      put(d2 + c, beta * load(d2 + c) + v2);
      put(d3 + c, beta * load(d3 + c) + v3);
    } else {
      put(d0 + c, v0);
      put(d1 + c, v1);
      put(d2 + c, v2);
      put(d3 + c, v3);
    }
  }
}

// One output row of the pool backward. Full 2x2 windows take a branch-free vectorised path;
// clipped windows at an odd bottom/right edge take the generic one.
template <bool Accumulate, class T>
void maxpool_backward_row(const T* px, const T* py, const T* pd, T* dx, int64_t n, int64_t i, int64_t H,
                          int64_t W, int64_t Wo, int64_t C, float beta) {
  auto write = [beta](T* out, float v) {
    if constexpr (Accumulate) put(out, beta * load(out) + v);
    else put(out, v);
  };
  const int64_t Ho = (H + 1) / 2, h0 = 2 * i, nh = std::min<int64_t>(2, H - h0);
  for (int64_t j = 0; j < Wo; ++j) {
    const int64_t w0 = 2 * j, nw = std::min<int64_t>(2, W - w0);
    const int64_t o = ((n * Ho + i) * Wo + j) * C;
    const T *m = py + o, *g = pd + o;
    const int64_t e00 = ((n * H + h0) * W + w0) * C;
    if (nh == 2 && nw == 2) {
      full_window<Accumulate>(px + e00, px + e00 + C, px + e00 + W * C, px + e00 + (W + 1) * C, m, g, dx + e00,
                              dx + e00 + C, dx + e00 + W * C, dx + e00 + (W + 1) * C, C, beta);
      continue;
    }
    for (int64_t c = 0; c < C; ++c) {
      bool taken = false;
      for (int64_t dh = 0; dh < nh; ++dh)
        for (int64_t dw = 0; dw < nw; ++dw) {
          const int64_t e = e00 + (dh * W + dw) * C + c;
          const bool hit = !taken && load(px + e) == load(m + c);
          taken = taken || hit;
          write(dx + e, hit ? load(g + c) : 0.0f);
        }
    }
  }
}

// x [N,H,W,C], y = maxpool(x), dy like y -> dx like x. Each input element belongs to exactly
// one window, so dx is written once per element: dy goes to the first (row-major) element equal
// to the window's max, the others get 0.
template <class T>
void maxpool_backward(const Tensor& x, const Tensor& y, const Tensor& dy, T* dx, float beta) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const int64_t Ho = (H + 1) / 2, Wo = (W + 1) / 2;
  if (!dx) return;
  const T *px = elements<T>(x), *py = elements<T>(y), *pd = elements<T>(dy);
#pragma omp parallel for collapse(2) if (x.numel() >= kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < Ho; ++i) {
      if (beta == 0.0f) maxpool_backward_row<false>(px, py, pd, dx, n, i, H, W, Wo, C, beta);
      else maxpool_backward_row<true>(px, py, pd, dx, n, i, H, W, Wo, C, beta);
    }
}

// x [N,H,W,C] -> y [N,2H,2W,C], y[n,i,j,:] = x[n,i/2,j/2,:]
template <class T>
void upsample_forward(const Tensor& x, Tensor& y) {
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const T* px = elements<T>(x);
  T* py = elements<T>(y);
#pragma omp parallel for collapse(2) if (y.numel() >= kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < 2 * H; ++i) {
      const T* in = px + (n * H + i / 2) * W * C;
      T* out = py + (n * 2 * H + i) * 2 * W * C;
      for (int64_t j = 0; j < W; ++j) {
        copy_row(in + j * C, C, out + (2 * j) * C);
        copy_row(in + j * C, C, out + (2 * j + 1) * C);
      }
    }
}

// dy [N,2H,2W,C] -> dx [N,H,W,C] (x_shape): each dx element sums its 2x2 block of dy.
template <class T>
void upsample_backward(const Tensor& dy, T* dx, float beta, const Shape& x_shape) {
  const int64_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3];
  if (!dx) return;
  const T* pd = elements<T>(dy);
#pragma omp parallel for collapse(2) if (dy.numel() >= kParallelMin)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < H; ++i) {
      const T* r0 = pd + (n * 2 * H + 2 * i) * 2 * W * C;
      const T* r1 = r0 + 2 * W * C;
      T* out = dx + (n * H + i) * W * C;
      for (int64_t j = 0; j < W; ++j) {
        const int64_t a = 2 * j * C, b = (2 * j + 1) * C;
        T* o = out + j * C;
        auto block = [&](int64_t c) { return load(r0 + a + c) + load(r0 + b + c) + load(r1 + a + c) + load(r1 + b + c); };
        if (beta == 0.0f) {
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) put(o + c, block(c));
        } else {
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) put(o + c, beta * load(o + c) + block(c));
        }
      }
    }
}

// a [N,H,W,Ca], b [N,H,W,Cb] -> y [N,H,W,Ca+Cb], a's channels first
template <class T>
void concat_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  const int64_t N = a.dim(0), H = a.dim(1), W = a.dim(2), Ca = a.dim(3), Cb = b.dim(3);
  const T *pa = elements<T>(a), *pb = elements<T>(b);
  T* py = elements<T>(y);
  const int64_t rows = N * H * W, C = Ca + Cb;
#pragma omp parallel for if (y.numel() >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    copy_row(pa + r * Ca, Ca, py + r * C);
    copy_row(pb + r * Cb, Cb, py + r * C + Ca);
  }
}

// dy [N,H,W,Ca+Cb] -> da [N,H,W,Ca] (first ca channels), db [N,H,W,Cb] (the rest)
template <class T>
void concat_backward(const Tensor& dy, int64_t ca, T* da, float beta_a, T* db, float beta_b) {
  const int64_t C = dy.dim(3), cb = C - ca;
  const int64_t rows = dy.numel() / (C ? C : 1);
  const T* pd = elements<T>(dy);
  // out[0..n) = beta*out + src[0..n): a copy on the first write (the usual case), else a sum.
  auto part = [](const T* __restrict src, T* __restrict out, int64_t n, float beta) {
    if (beta == 0.0f) {
      copy_row(src, n, out);
      return;
    }
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) put(out + c, beta * load(out + c) + load(src + c));
  };
#pragma omp parallel for if (dy.numel() >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = pd + r * C;
    if (da) part(src, da + r * ca, ca, beta_a);
    if (db) part(src + ca, db + r * cb, cb, beta_b);
  }
}

}  // namespace

void maxpool2x2_forward(const Tensor& x, Tensor& y) {
  x.dtype() == DType::BF16 ? maxpool_forward<bf16>(x, y) : maxpool_forward<float>(x, y);
}
void maxpool2x2_backward(const Tensor& x, const Tensor& y, const Tensor& dy, float* dx, float beta) {
  maxpool_backward(x, y, dy, dx, beta);
}
void maxpool2x2_backward(const Tensor& x, const Tensor& y, const Tensor& dy, bf16* dx, float beta) {
  maxpool_backward(x, y, dy, dx, beta);
}

void upsample2x_forward(const Tensor& x, Tensor& y) {
  x.dtype() == DType::BF16 ? upsample_forward<bf16>(x, y) : upsample_forward<float>(x, y);
}
void upsample2x_backward(const Tensor& dy, float* dx, float beta, const Shape& x_shape) {
  upsample_backward(dy, dx, beta, x_shape);
}
void upsample2x_backward(const Tensor& dy, bf16* dx, float beta, const Shape& x_shape) {
  upsample_backward(dy, dx, beta, x_shape);
}

void concat_channels_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  a.dtype() == DType::BF16 ? concat_forward<bf16>(a, b, y) : concat_forward<float>(a, b, y);
}
void concat_channels_backward(const Tensor& dy, int64_t ca, float* da, float beta_a, float* db, float beta_b) {
  concat_backward(dy, ca, da, beta_a, db, beta_b);
}
void concat_channels_backward(const Tensor& dy, int64_t ca, bf16* da, float beta_a, bf16* db, float beta_b) {
  concat_backward(dy, ca, da, beta_a, db, beta_b);
}

}  // namespace cs::cpu
