// CPU kernels of ops/pointwise.h: axpby, add, mul, sum, scalar broadcast, relu.
// All shapes are flat: these kernels see numel() contiguous floats.
#include <algorithm>

#include "ops/cpu/common.h"
#include "ops/pointwise.h"

namespace cs::cpu {

using detail::kParallelMin;
using detail::require;
using detail::require_cpu;
using detail::require_shape;

// y = alpha*x + beta*y over numel(x) elements; y may alias x.
void axpby(const Tensor& x, float alpha, float* y, float beta) {
  require_cpu(x, "axpby", "x");
  const float* px = x.data();
  const int64_t n = x.numel();
  if (beta == 0.0f) {  // do not read y: it may be uninitialised
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = alpha * px[i];
  } else {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = alpha * px[i] + beta * y[i];
  }
}

// a, b, y: same shape; y = a + b
void add_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  require_cpu(a, "add_forward", "a");
  require_shape(b, a.shape(), "add_forward", "b");
  require_shape(y, a.shape(), "add_forward", "y");
  const float *pa = a.data(), *pb = b.data();
  float* py = y.data();
  const int64_t n = a.numel();
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) py[i] = pa[i] + pb[i];
}

// a, b, y: same shape; y = a * b
void mul_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  require_cpu(a, "mul_forward", "a");
  require_shape(b, a.shape(), "mul_forward", "b");
  require_shape(y, a.shape(), "mul_forward", "y");
  const float *pa = a.data(), *pb = b.data();
  float* py = y.data();
  const int64_t n = a.numel();
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) py[i] = pa[i] * pb[i];
}

// a, b, dy: same shape; da = beta_a*da + dy*b, db = beta_b*db + dy*a
void mul_backward(const Tensor& a, const Tensor& b, const Tensor& dy, float* da, float beta_a,
                  float* db, float beta_b) {
  require_cpu(a, "mul_backward", "a");
  require_shape(b, a.shape(), "mul_backward", "b");
  require_shape(dy, a.shape(), "mul_backward", "dy");
  const int64_t n = a.numel();
  const float *pa = a.data(), *pb = b.data(), *pd = dy.data();
  if (da) {
    if (beta_a == 0.0f) {
#pragma omp parallel for simd if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) da[i] = pd[i] * pb[i];
    } else {
#pragma omp parallel for simd if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) da[i] = beta_a * da[i] + pd[i] * pb[i];
    }
  }
  if (db) {
    if (beta_b == 0.0f) {
#pragma omp parallel for simd if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) db[i] = pd[i] * pa[i];
    } else {
#pragma omp parallel for simd if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) db[i] = beta_b * db[i] + pd[i] * pa[i];
    }
  }
}

// x any shape -> y [1] = sum(x), accumulated in double.
void sum_forward(const Tensor& x, Tensor& y) {
  require_cpu(x, "sum_forward", "x");
  require_cpu(y, "sum_forward", "y");
  require(y.numel() == 1, "sum_forward", "y must hold one element, got " + shape_str(y.shape()));
  const float* p = x.data();
  const int64_t n = x.numel();
  double s = 0.0;
#pragma omp parallel for simd reduction(+ : s) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) s += p[i];
  y.data()[0] = static_cast<float>(s);
}

// dy [1]; dx[i] = beta*dx[i] + scale*dy[0], n elements
void broadcast_scalar_backward(const Tensor& dy, float scale, float* dx, float beta, int64_t n) {
  require_cpu(dy, "broadcast_scalar_backward", "dy");
  require(dy.numel() == 1, "broadcast_scalar_backward",
          "dy must hold one element, got " + shape_str(dy.shape()));
  if (!dx) return;
  const float v = scale * dy.data()[0];
  if (beta == 0.0f) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] = v;
  } else {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] = beta * dx[i] + v;
  }
}

// x, y: same shape; y = max(x, 0)
void relu_forward(const Tensor& x, Tensor& y) {
  require_cpu(x, "relu_forward", "x");
  require_shape(y, x.shape(), "relu_forward", "y");
  const float* px = x.data();
  float* py = y.data();
  const int64_t n = x.numel();
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) py[i] = px[i] > 0.0f ? px[i] : 0.0f;  // ternary: vectorises
}

// y (relu output), dy: same shape; dx = beta*dx + (y > 0 ? dy : 0)
void relu_backward(const Tensor& y, const Tensor& dy, float* dx, float beta) {
  require_cpu(y, "relu_backward", "y");
  require_shape(dy, y.shape(), "relu_backward", "dy");
  if (!dx) return;
  const float *py = y.data(), *pd = dy.data();
  const int64_t n = y.numel();
  if (beta == 0.0f) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] = py[i] > 0.0f ? pd[i] : 0.0f;
  } else {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] = beta * dx[i] + (py[i] > 0.0f ? pd[i] : 0.0f);
  }
}

}  // namespace cs::cpu
