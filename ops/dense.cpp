// linear and softmax (ops/dense.h): shape checks, then each forward kernel and tape node through
// record_op.
#include "ops/dense.h"

#include <stdexcept>

#include "autograd/record_op.h"
#include "ops/dispatch.h"
#include "ops/precision.h"

namespace cs {

Tensor linear(const Tensor& x, const Tensor& w) {
  check_ndim(x, 2, "linear", "x [N,Din]");
  check_ndim(w, 2, "linear", "w [Dout,Din]");
  check_same_device(x, w, "linear");
  if (w.dim(1) != x.dim(1))
    throw std::invalid_argument("linear: x " + shape_str(x.shape()) + " does not match w " +
                                shape_str(w.shape()) + " [Dout,Din]");
  const double flops = 2.0 * x.dim(0) * x.dim(1) * w.dim(0);
  Tensor y = Tensor::empty({x.dim(0), w.dim(0)}, x.device());
  // bf16 on rounded operands through the fp32 GEMMs on every device: these GEMMs (the
  // projection heads) are too small for bf16 kernels to matter.
  const bool bf16 = compute_precision() == Precision::BF16;
  return record_op(
      {"linear", flops, 2.0 * flops}, {x, w}, y,
      [&] {
        if (bf16)
          CS_DISPATCH(x.device(), linear_forward, bf16_rounded(x), bf16_rounded(w), y);
        else
          CS_DISPATCH(x.device(), linear_forward, x, w, y);
      },
      [x, w, bf16](const Tensor& dy) {
        const GradOut dx = grad_out(x), dw = grad_out(w);
        if (bf16) {
          const Tensor xr = dw.ptr ? bf16_rounded(x) : x, wr = dx.ptr ? bf16_rounded(w) : w;
          CS_DISPATCH(x.device(), linear_backward, xr, wr, bf16_rounded(dy), dx.ptr, dx.beta, dw.ptr, dw.beta);
        } else {
          CS_DISPATCH(x.device(), linear_backward, x, w, dy, dx.ptr, dx.beta, dw.ptr, dw.beta);
        }
      });
}

Tensor softmax(const Tensor& x) {
  check_defined(x, "softmax");
  if (x.ndim() < 1 || x.dim(-1) == 0) throw std::invalid_argument("softmax: x must be [..., C] with C > 0");
  Tensor y = Tensor::empty(x.shape(), x.device());
  return record_op({"softmax"}, {x}, y, [&] { CS_DISPATCH(x.device(), softmax_forward, x, y); },
                   [x, y](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     CS_DISPATCH(x.device(), softmax_backward, y, dy, dx.ptr, dx.beta);
                   });
}

}  // namespace cs
