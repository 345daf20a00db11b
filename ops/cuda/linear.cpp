// linear without bias through cuBLAS. cuBLAS is column-major: a row-major [R, K] array is the
// column-major K x R matrix, i.e. its transpose, so each row-major product below is written as
// the transposed column-major product (C = A B  <=>  C^T = B^T A^T).
#include <climits>
#include <stdexcept>

#include "autograd/cuda_runtime_api.h"
#include "ops/kernels.h"

namespace cs::cuda {
namespace {

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string("linear (cuda): ") + what + " too large for cuBLAS");
  return static_cast<int>(v);
}

void check_linear(const Tensor& x, const Tensor& w, const char* op) {
  for (const Tensor* t : {&x, &w})
    if (!t->defined() || t->device() != Device::CUDA)
      throw std::invalid_argument(std::string(op) + " (cuda): inputs must be defined and on the GPU");
  if (x.ndim() != 2 || w.ndim() != 2 || x.dim(1) != w.dim(1))
    throw std::invalid_argument(std::string(op) + " (cuda): x " + shape_str(x.shape()) + " and w " +
                                shape_str(w.shape()) + " are not [N,Din] and [Dout,Din]");
}

}  // namespace

// x [N,Din], w [Dout,Din] -> y [N,Dout] = x w^T.
// Column-major: y^T (Dout x N) = w (op T of the Din x Dout array w) * x^T (the Din x N array x).
void linear_forward(const Tensor& x, const Tensor& w, Tensor& y) {
  check_linear(x, w, "linear");
  const int N = to_int(x.dim(0), "N"), Din = to_int(x.dim(1), "Din"), Dout = to_int(w.dim(0), "Dout");
  check_shape(y, {x.dim(0), w.dim(0)}, "linear (cuda)", "y");
  if (y.device() != Device::CUDA) throw std::invalid_argument("linear (cuda): y is not on the GPU");
  if (N == 0 || Dout == 0) return;
  const float alpha = 1.0f, beta = 0.0f;
  if (Din == 0) {
    y.zero_();
    return;
  }
  cublas_check(cublasSgemm(cublas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, Dout, N, Din, &alpha, w.data(), Din,
                           x.data(), Din, &beta, y.data(), Dout),
               "linear_forward: cublasSgemm");
}

// dx [N,Din] = dy [N,Dout] w [Dout,Din]   -> column-major dx^T = w^T dy^T (both plain arrays)
// dw [Dout,Din] = dy^T x                  -> column-major dw^T = x^T dy   (dy array transposed)
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx, float* dw,
                     float beta_dw) {
  check_linear(x, w, "linear_backward");
  check_shape(dy, {x.dim(0), w.dim(0)}, "linear_backward (cuda)", "dy");
  if (dy.device() != Device::CUDA)
    throw std::invalid_argument("linear_backward (cuda): dy is not on the GPU");
  const int N = to_int(x.dim(0), "N"), Din = to_int(x.dim(1), "Din"), Dout = to_int(w.dim(0), "Dout");
  const float one = 1.0f;
  cublasHandle_t h = cublas_handle();
  // With a zero inner dimension the product is zero: beta 0 clears, beta 1 keeps (cuBLAS does
  // that itself for k = 0 as long as m, n > 0).
  if (dx && N > 0 && Din > 0)
    cublas_check(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, Din, N, Dout, &one, w.data(), Din, dy.data(), Dout,
                             &beta_dx, dx, Din),
                 "linear_backward: cublasSgemm (dx)");
  if (dw && Dout > 0 && Din > 0)
    cublas_check(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, Din, Dout, N, &one, x.data(), Din, dy.data(), Dout,
                             &beta_dw, dw, Din),
                 "linear_backward: cublasSgemm (dw)");
}

}  // namespace cs::cuda
