#pragma once
// Elementwise ops and full reductions: relu, add, mul, scale, sum, mean, reshape, flatten.
// Kernels: ops/cpu/pointwise.cpp, ops/cuda/pointwise.cu; they see numel() contiguous floats.
#include <cstdint>

#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

Tensor relu(const Tensor& x);                     // any shape -> same shape, max(x, 0)
Tensor add(const Tensor& a, const Tensor& b);     // a, b same shape -> same shape
Tensor mul(const Tensor& a, const Tensor& b);     // a, b same shape -> same shape, elementwise
Tensor scale(const Tensor& x, float s);           // any shape -> s * x
Tensor sum(const Tensor& x);                      // any shape -> [1]
Tensor mean(const Tensor& x);                     // any shape -> [1]
Tensor reshape(const Tensor& x, const Shape& s);  // same numel, shares storage
Tensor flatten(const Tensor& x);                  // [N, ...] -> [N, prod(...)]

// ---- kernels (conventions: ops/dispatch.h)

// y = alpha*x + beta*y over numel(x) floats, y may alias x: the forward of scale and mean, the
// backward of add, scale and reshape.
// saved: nothing (scale keeps s).
using Axpby = void(const Tensor& x, float alpha, float* y, float beta);
namespace cpu { Axpby axpby; }
namespace cuda { Axpby axpby; }

// x, y, dy: one shape; dx = dy where y > 0.
// saved: y (the output).
using ReluForward = void(const Tensor& x, Tensor& y);
using ReluBackward = void(const Tensor& y, const Tensor& dy, float* dx, float beta);
namespace cpu { ReluForward relu_forward; ReluBackward relu_backward; }
namespace cuda { ReluForward relu_forward; ReluBackward relu_backward; }

// a, b, y: one shape; the backward is axpby of dy into each input.
// saved: nothing.
using AddForward = void(const Tensor& a, const Tensor& b, Tensor& y);
namespace cpu { AddForward add_forward; }
namespace cuda { AddForward add_forward; }

// a, b, y, dy: one shape; da = dy*b, db = dy*a.
// saved: a, b.
using MulForward = void(const Tensor& a, const Tensor& b, Tensor& y);
using MulBackward = void(const Tensor& a, const Tensor& b, const Tensor& dy, float* da, float beta_a,
                         float* db, float beta_b);
namespace cpu { MulForward mul_forward; MulBackward mul_backward; }
namespace cuda { MulForward mul_forward; MulBackward mul_backward; }

// x any shape -> y [1], accumulated in double; dy [1] -> dx[i] = scale*dy[0] for i < n.
// saved: numel(x), and mean's scale 1/n.
using SumForward = void(const Tensor& x, Tensor& y);
using BroadcastScalarBackward = void(const Tensor& dy, float scale, float* dx, float beta, int64_t n);
namespace cpu { SumForward sum_forward; BroadcastScalarBackward broadcast_scalar_backward; }
namespace cuda { SumForward sum_forward; BroadcastScalarBackward broadcast_scalar_backward; }

}  // namespace cs
