#pragma once
// conv2d: stride 1, TensorFlow SAME padding, pad_before = (k-1)/2 and pad_after = k-1-pad_before
// per spatial axis (a 2x2 kernel pads one row/column at the bottom/right only).
// Kernels: ops/cpu/conv2d.cpp (oneDNN), ops/cuda/conv2d.cu (cuDNN, plans in ops/cuda/conv_plan.h).
#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

// x [N,H,W,Cin], w [Cout,KH,KW,Cin], b [Cout] or undefined -> [N,H,W,Cout] of x's type, in the
// compute_precision() of the caller (autograd/precision.h). A bf16 x needs the bf16 kernels
// (native_bf16) and the bf16 precision.
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

// The same in bf16 kernels, where native_bf16(cpu) (ops/precision.h); elsewhere conv2d emulates
// bf16 through the kernels above. x, w, dy are read as bf16, dw and db are fp32, and y, dy and
// dx have x's type: fp32 tensors are converted on the way in and out, bf16 ones used in place.
using Conv2dBackwardBf16 = void(const Tensor& x, const Tensor& w, const Tensor& dy, void* dx, float beta_dx,
                                float* dw, float beta_dw, float* db, float beta_db);
namespace cpu { Conv2dForward conv2d_forward_bf16; Conv2dBackwardBf16 conv2d_backward_bf16; }

}  // namespace cs
