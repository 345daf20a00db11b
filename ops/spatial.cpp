// maxpool2x2, upsample2x, concat_channels (ops/spatial.h): shape checks, then each forward kernel
// and tape node through record_op.
#include "ops/spatial.h"

#include <stdexcept>
#include <string>

#include "autograd/record_op.h"
#include "ops/dispatch.h"

namespace cs {

Tensor maxpool2x2(const Tensor& x) {
  check_ndim(x, 4, "maxpool2x2", "x [N,H,W,C]");
  Tensor y = Tensor::empty({x.dim(0), (x.dim(1) + 1) / 2, (x.dim(2) + 1) / 2, x.dim(3)}, x.device(), x.dtype());
  return record_op({"maxpool2x2"}, {x}, y, [&] { CS_DISPATCH(x.device(), maxpool2x2_forward, x, y); },
                   [x, y](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     if (x.dtype() == DType::BF16)
                       CS_DISPATCH_CPU_ONLY(x.device(), maxpool2x2_backward, x, y, dy, dx.ptr_bf16, dx.beta);
                     else
                       CS_DISPATCH(x.device(), maxpool2x2_backward, x, y, dy, dx.ptr, dx.beta);
                   });
}

Tensor upsample2x(const Tensor& x) {
  check_ndim(x, 4, "upsample2x", "x [N,H,W,C]");
  Tensor y = Tensor::empty({x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)}, x.device(), x.dtype());
  return record_op({"upsample2x"}, {x}, y, [&] { CS_DISPATCH(x.device(), upsample2x_forward, x, y); },
                   [x](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     if (x.dtype() == DType::BF16)
                       CS_DISPATCH_CPU_ONLY(x.device(), upsample2x_backward, dy, dx.ptr_bf16, dx.beta, x.shape());
                     else
                       CS_DISPATCH(x.device(), upsample2x_backward, dy, dx.ptr, dx.beta, x.shape());
                   });
}

Tensor concat_channels(const Tensor& a, const Tensor& b) {
  check_ndim(a, 4, "concat_channels", "a [N,H,W,Ca]");
  check_ndim(b, 4, "concat_channels", "b [N,H,W,Cb]");
  check_same_device(a, b, "concat_channels");
  if (a.dim(0) != b.dim(0) || a.dim(1) != b.dim(1) || a.dim(2) != b.dim(2))
    throw std::invalid_argument("concat_channels: " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                                " differ outside the channel axis");
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string("concat_channels: a is ") + dtype_name(a.dtype()) + " and b " +
                                dtype_name(b.dtype()));
  Tensor y = Tensor::empty({a.dim(0), a.dim(1), a.dim(2), a.dim(3) + b.dim(3)}, a.device(), a.dtype());
  return record_op({"concat"}, {a, b}, y, [&] { CS_DISPATCH(a.device(), concat_channels_forward, a, b, y); },
                   [a, b](const Tensor& dy) {
                     const GradOut da = grad_out(a), db = grad_out(b);
                     if (a.dtype() == DType::BF16)
                       CS_DISPATCH_CPU_ONLY(a.device(), concat_channels_backward, dy, a.dim(3), da.ptr_bf16, da.beta,
                                            db.ptr_bf16, db.beta);
                     else
                       CS_DISPATCH(a.device(), concat_channels_backward, dy, a.dim(3), da.ptr, da.beta, db.ptr, db.beta);
                   });
}

}  // namespace cs
