#pragma once
// Differentiable ops. Each records a tape node when an input requires grad (autograd/tape.h)
// and runs on the device of its inputs (ops/kernels.inc has the kernels, CPU and CUDA).
// Shapes: activations NHWC [N, H, W, C]; conv weights OHWI [Cout, KH, KW, Cin].
#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

// x [N,H,W,Cin], w [Cout,KH,KW,Cin], b [Cout] or undefined -> [N,H,W,Cout].
// Stride 1, TensorFlow SAME padding (a 2x2 kernel pads bottom/right only).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// x [..., C]; gamma, beta, running_mean, running_var [C] -> [..., C].
// training: batch statistics over all leading dims, running stats updated with `decay`;
// otherwise the running statistics are used (and not changed).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float decay = 0.99f, float eps = 1e-3f);

Tensor relu(const Tensor& x);                               // any shape
Tensor maxpool2x2(const Tensor& x);                         // [N,H,W,C] -> [N,ceil(H/2),ceil(W/2),C]
Tensor upsample2x(const Tensor& x);                         // [N,H,W,C] -> [N,2H,2W,C], nearest
Tensor concat_channels(const Tensor& a, const Tensor& b);   // [N,H,W,Ca],[N,H,W,Cb] -> [N,H,W,Ca+Cb]
Tensor reshape(const Tensor& x, const Shape& s);            // same numel, shares storage
Tensor flatten(const Tensor& x);                            // [N, ...] -> [N, prod(...)]
Tensor linear(const Tensor& x, const Tensor& w);            // [N,Din],[Dout,Din] -> [N,Dout]
Tensor softmax(const Tensor& x);                            // over the last dim

Tensor add(const Tensor& a, const Tensor& b);               // same shapes
Tensor mul(const Tensor& a, const Tensor& b);               // same shapes, elementwise
Tensor scale(const Tensor& x, float s);                     // s * x
Tensor sum(const Tensor& x);                                // -> [1]
Tensor mean(const Tensor& x);                               // -> [1]

}  // namespace cs
