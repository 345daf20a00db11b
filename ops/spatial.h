#pragma once
// Spatial ops on NHWC maps: 2x2 max pool, nearest x2 upsample, channel concat.
// Kernels: ops/cpu/spatial.cpp, ops/cuda/spatial.cu.
#include <cstdint>

#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

Tensor maxpool2x2(const Tensor& x);                        // [N,H,W,C] -> [N,ceil(H/2),ceil(W/2),C]
Tensor upsample2x(const Tensor& x);                        // [N,H,W,C] -> [N,2H,2W,C], nearest
Tensor concat_channels(const Tensor& a, const Tensor& b);  // [N,H,W,Ca],[N,H,W,Cb] -> [N,H,W,Ca+Cb]

// Each takes fp32 or bf16 (CPU only) and returns, and takes the gradient in, the same type.

// ---- kernels (conventions: ops/dispatch.h). The tensors of one call have one type; a bf16
// call (CPU only) is the overload taking bf16* gradients.

// 2x2 max pool, stride 2, TF SAME: x [N,H,W,C] -> y [N,ceil(H/2),ceil(W/2),C]; an odd H or W
// gets a clipped window at the bottom/right. dy like y -> dx like x: dy goes to the first
// (row-major) element of its window equal to the max.
// saved: x, y.
using Maxpool2x2Forward = void(const Tensor& x, Tensor& y);
template <class T>
using Maxpool2x2BackwardT = void(const Tensor& x, const Tensor& y, const Tensor& dy, T* dx, float beta);
using Maxpool2x2Backward = Maxpool2x2BackwardT<float>;
namespace cpu { Maxpool2x2Forward maxpool2x2_forward; Maxpool2x2Backward maxpool2x2_backward; }
namespace cpu { Maxpool2x2BackwardT<bf16> maxpool2x2_backward; }
namespace cuda { Maxpool2x2Forward maxpool2x2_forward; Maxpool2x2Backward maxpool2x2_backward; }

// x [N,H,W,C] -> y [N,2H,2W,C], y[n,i,j,c] = x[n,i/2,j/2,c]; dy [N,2H,2W,C] -> dx [N,H,W,C], each
// element the sum of its 2x2 block.
// saved: x's shape.
using Upsample2xForward = void(const Tensor& x, Tensor& y);
template <class T>
using Upsample2xBackwardT = void(const Tensor& dy, T* dx, float beta, const Shape& x_shape);
using Upsample2xBackward = Upsample2xBackwardT<float>;
namespace cpu { Upsample2xForward upsample2x_forward; Upsample2xBackward upsample2x_backward; }
namespace cpu { Upsample2xBackwardT<bf16> upsample2x_backward; }
namespace cuda { Upsample2xForward upsample2x_forward; Upsample2xBackward upsample2x_backward; }

// a [N,H,W,Ca], b [N,H,W,Cb] -> y [N,H,W,Ca+Cb], a's channels first; dy [N,H,W,Ca+Cb] ->
// da [N,H,W,Ca], db [N,H,W,Cb].
// saved: ca (a's channel count).
using ConcatChannelsForward = void(const Tensor& a, const Tensor& b, Tensor& y);
template <class T>
using ConcatChannelsBackwardT = void(const Tensor& dy, int64_t ca, T* da, float beta_a, T* db, float beta_b);
using ConcatChannelsBackward = ConcatChannelsBackwardT<float>;
namespace cpu { ConcatChannelsForward concat_channels_forward; ConcatChannelsBackward concat_channels_backward; }
namespace cpu { ConcatChannelsBackwardT<bf16> concat_channels_backward; }
namespace cuda { ConcatChannelsForward concat_channels_forward; ConcatChannelsBackward concat_channels_backward; }

}  // namespace cs
