// conv2d (ops/conv2d.h): shape checks, then the forward kernel and tape node through record_op.
#include "ops/conv2d.h"

#include <stdexcept>
#include <string>

#include "autograd/record_op.h"
#include "ops/dispatch.h"
#include "ops/precision.h"

namespace cs {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_ndim(x, 4, "conv2d", "input x [N,H,W,Cin]");
  check_ndim(w, 4, "conv2d", "weight w [Cout,KH,KW,Cin]");
  if (w.dim(3) != x.dim(3))
    throw std::invalid_argument("conv2d: weight " + shape_str(w.shape()) + " expects " +
                                std::to_string(w.dim(3)) + " input channels, x is " + shape_str(x.shape()));
  if (w.dim(1) < 1 || w.dim(2) < 1) throw std::invalid_argument("conv2d: empty kernel " + shape_str(w.shape()));
  check_same_device(x, w, "conv2d");
  if (b.defined()) {
    check_shape(b, {w.dim(0)}, "conv2d", "bias");
    check_same_device(x, b, "conv2d");
  }
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), Cin = x.dim(3);
  const int64_t Cout = w.dim(0), KH = w.dim(1), KW = w.dim(2);
  const double flops = 2.0 * N * H * W * Cout * KH * KW * Cin;
  // bf16 runs in bf16 kernels where the device has them, else on bf16-rounded operands.
  const bool bf16 = compute_precision() == Precision::BF16;
  const bool native = bf16 && native_bf16(x.device()), emulated = bf16 && !native;
  if (x.dtype() == DType::BF16 && !native)
    throw std::invalid_argument("conv2d: bf16 input " + shape_str(x.shape()) +
                                " needs the bf16 precision on a device with bf16 kernels");
  check_dtype(w, DType::F32, "conv2d", "weight");
  Tensor y = Tensor::empty({N, H, W, Cout}, x.device(), x.dtype());
  return record_op(
      {"conv2d", flops, 2.0 * flops}, {x, w, b}, y,
      [&] {
        if (native)
          CS_DISPATCH_CPU_ONLY(x.device(), conv2d_forward_bf16, x, w, b, y);
        else if (emulated)
          CS_DISPATCH(x.device(), conv2d_forward, bf16_rounded(x), bf16_rounded(w), b, y);
        else
          CS_DISPATCH(x.device(), conv2d_forward, x, w, b, y);
      },
      [x, w, b, native, emulated](const Tensor& dy) {
        const GradOut dx = grad_out(x), dw = grad_out(w), db = grad_out(b);
        if (native) {
          CS_DISPATCH_CPU_ONLY(x.device(), conv2d_backward_bf16, x, w, dy, dx.raw(), dx.beta, dw.ptr, dw.beta,
                               db.ptr, db.beta);
        } else if (emulated) {
          // dx needs w and dy, dw needs x and dy: round only what is read.
          const Tensor xr = dw.ptr ? bf16_rounded(x) : x, wr = dx.ptr ? bf16_rounded(w) : w;
          CS_DISPATCH(x.device(), conv2d_backward, xr, wr, bf16_rounded(dy), dx.ptr, dx.beta, dw.ptr, dw.beta,
                      db.ptr, db.beta);
        } else {
          CS_DISPATCH(x.device(), conv2d_backward, x, w, dy, dx.ptr, dx.beta, dw.ptr, dw.beta, db.ptr, db.beta);
        }
      });
}

}  // namespace cs
