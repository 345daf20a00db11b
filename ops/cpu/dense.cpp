// CPU kernels over the last (feature) dimension: linear (OpenBLAS sgemm), softmax.
#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "ops/cpu/common.h"
#include "ops/dense.h"

namespace cs::cpu {

using detail::kParallelMin;

// x [N,Din], w [Dout,Din] -> y [N,Dout] = x w^T
void linear_forward(const Tensor& x, const Tensor& w, Tensor& y) {
  const int N = static_cast<int>(x.dim(0)), Din = static_cast<int>(x.dim(1)),
            Dout = static_cast<int>(w.dim(0));
  if (N == 0 || Dout == 0) return;
  if (Din == 0) {
    y.zero_();
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Dout, Din, 1.0f, x.data(), Din, w.data(),
              Din, 0.0f, y.data(), Dout);
}

// dy [N,Dout] -> dx [N,Din] = dy w, dw [Dout,Din] = dy^T x (beta-accumulated; BLAS beta = 0
// never reads the output).
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx,
                     float* dw, float beta_dw) {
  const int N = static_cast<int>(x.dim(0)), Din = static_cast<int>(x.dim(1)),
            Dout = static_cast<int>(w.dim(0));
  if (Din == 0) return;
  if (dx && N > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Din, Dout, 1.0f, dy.data(), Dout,
                w.data(), Din, beta_dx, dx, Din);
  if (dw && Dout > 0)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Dout, Din, N, 1.0f, dy.data(), Dout,
                x.data(), Din, beta_dw, dw, Din);
}

// x [..., C] -> y [..., C], softmax of each row (max-shifted for stability)
void softmax_forward(const Tensor& x, Tensor& y) {
  const int64_t C = x.dim(-1), rows = C ? x.numel() / C : 0;
  const float* px = x.data();
  float* py = y.data();
#pragma omp parallel for if (x.numel() >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = px + r * C;
    float* out = py + r * C;
    float m = in[0];
    for (int64_t c = 1; c < C; ++c) m = std::max(m, in[c]);
    float s = 0.0f;
    for (int64_t c = 0; c < C; ++c) {
      out[c] = std::exp(in[c] - m);
      s += out[c];
    }
    const float inv = 1.0f / s;
    for (int64_t c = 0; c < C; ++c) out[c] *= inv;
  }
}

// y = softmax(x), dy [..., C] -> dx = beta*dx + y*(dy - <dy,y>) per row
void softmax_backward(const Tensor& y, const Tensor& dy, float* dx, float beta) {
  if (!dx || y.ndim() == 0) return;
  const int64_t C = y.dim(-1), rows = C ? y.numel() / C : 0;
  const float *py = y.data(), *pd = dy.data();
#pragma omp parallel for if (y.numel() >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float *yr = py + r * C, *dr = pd + r * C;
    float dot = 0.0f;
    for (int64_t c = 0; c < C; ++c) dot += yr[c] * dr[c];
    for (int64_t c = 0; c < C; ++c) detail::store(dx + r * C + c, yr[c] * (dr[c] - dot), beta);
  }
}

}  // namespace cs::cpu
