// CPU kernels of ops/pointwise.h: axpby, add, mul, sum, scalar broadcast, relu.
// All shapes are flat: these kernels see numel() contiguous floats.
#include <algorithm>

#include "ops/cpu/common.h"
#include "ops/pointwise.h"

namespace cs::cpu {

using detail::kParallelMin;

namespace {
// y[i] = f(i) for i < n.
template <class F>
void map_into(float* y, int64_t n, F f) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = f(i);
}
}  // namespace

// y = alpha*x + beta*y over numel(x) elements; y may alias x.
void axpby(const Tensor& x, float alpha, float* y, float beta) {
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
  const float *pa = a.data(), *pb = b.data();
  map_into(y.data(), a.numel(), [=](int64_t i) { return pa[i] + pb[i]; });
}

// a, b, y: same shape; y = a * b
void mul_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  const float *pa = a.data(), *pb = b.data();
  map_into(y.data(), a.numel(), [=](int64_t i) { return pa[i] * pb[i]; });
}

// a, b, dy: same shape; da = beta_a*da + dy*b, db = beta_b*db + dy*a
void mul_backward(const Tensor& a, const Tensor& b, const Tensor& dy, float* da, float beta_a,
                  float* db, float beta_b) {
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
  const float* p = x.data();
  const int64_t n = x.numel();
  double s = 0.0;
#pragma omp parallel for simd reduction(+ : s) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) s += p[i];
  y.data()[0] = static_cast<float>(s);
}

// dy [1]; dx[i] = beta*dx[i] + scale*dy[0], n elements
void broadcast_scalar_backward(const Tensor& dy, float scale, float* dx, float beta, int64_t n) {
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
  const float* px = x.data();
  map_into(y.data(), x.numel(), [=](int64_t i) { return px[i] > 0.0f ? px[i] : 0.0f; });  // ternary: vectorises
}

// y (relu output), dy: same shape; dx = beta*dx + (y > 0 ? dy : 0)
void relu_backward(const Tensor& y, const Tensor& dy, float* dx, float beta) {
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
