#pragma once
// conv2d: stride 1, TensorFlow SAME padding, pad_before = (k-1)/2 and pad_after = k-1-pad_before
// per spatial axis (a 2x2 kernel pads one row/column at the bottom/right only).
// Kernels: ops/cpu/conv2d.cpp (oneDNN), ops/cuda/conv2d.cu (cuDNN, plans in ops/cuda/conv_plan.h).
#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

// x [N,H,W,Cin], w [Cout,KH,KW,Cin], b [Cout] or undefined -> [N,H,W,Cout], in the
// compute_precision() of the caller (autograd/precision.h).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// ---- kernels (conventions: ops/dispatch.h)

// x [N,H,W,Cin], w [Cout,KH,KW,Cin] (KH, KW >= 1), b [Cout] or undefined -> y [N,H,W,Cout];
// dy [N,H,W,Cout] -> dx [N,H,W,Cin], dw [Cout,KH,KW,Cin], db [Cout], each with its own beta.
// saved: x, w (and b, only to know whether it wants a gradient).
using Conv2dForward = void(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y);
using Conv2dBackward = void(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx,
                            float* dw, float beta_dw, float* db, float beta_db);
namespace cpu { Conv2dForward conv2d_forward; Conv2dBackward conv2d_backward; }
namespace cuda { Conv2dForward conv2d_forward; Conv2dBackward conv2d_backward; }

// The same in bf16 kernels (x, w, dy read as bf16; y, dx, dw, db fp32), where native_bf16(cpu)
// (ops/precision.h); elsewhere conv2d emulates bf16 through the kernels above.
namespace cpu { Conv2dForward conv2d_forward_bf16; Conv2dBackward conv2d_backward_bf16; }

}  // namespace cs
