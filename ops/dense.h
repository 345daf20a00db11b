#pragma once
// Ops over the last (feature) dimension: linear (no bias) and softmax.
// Kernels: ops/cpu/dense.cpp (OpenBLAS), ops/cuda/dense.cu (cuBLAS).
#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

Tensor linear(const Tensor& x, const Tensor& w);  // x [N,Din], w [Dout,Din] -> [N,Dout] = x w^T, in compute_precision()
Tensor softmax(const Tensor& x);                  // x [..., C], C >= 1 -> [..., C], over the last dim

// ---- kernels (conventions: ops/dispatch.h)

// x [N,Din], w [Dout,Din] -> y [N,Dout]; dy [N,Dout] -> dx = dy w [N,Din], dw = dy^T x [Dout,Din].
// saved: x, w.
using LinearForward = void(const Tensor& x, const Tensor& w, Tensor& y);
using LinearBackward = void(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx,
                            float* dw, float beta_dw);
namespace cpu { LinearForward linear_forward; LinearBackward linear_backward; }
namespace cuda { LinearForward linear_forward; LinearBackward linear_backward; }

// x, y, dy [..., C], C >= 1; dx = y*(dy - <dy,y>) per row.
// saved: y (the output).
using SoftmaxForward = void(const Tensor& x, Tensor& y);
using SoftmaxBackward = void(const Tensor& y, const Tensor& dy, float* dx, float beta);
namespace cpu { SoftmaxForward softmax_forward; SoftmaxBackward softmax_backward; }
namespace cuda { SoftmaxForward softmax_forward; SoftmaxBackward softmax_backward; }

}  // namespace cs
