// batch_norm and batch_norm_relu (ops/batch_norm.h): shape checks, then the forward kernel and
// tape node through record_op.
#include "ops/batch_norm.h"

#include <initializer_list>
#include <string>
#include <stdexcept>

#include "autograd/record_op.h"
#include "ops/dispatch.h"

namespace cs {
namespace {

Tensor normalise(const char* name, bool relu, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                 Tensor& running_mean, Tensor& running_var, bool training, float decay, float eps) {
  if (!x.defined() || x.ndim() < 2) throw std::invalid_argument(std::string(name) + ": x must be [..., C]");
  const int64_t C = x.dim(-1);
  check_shape(gamma, {C}, name, "gamma");
  check_shape(beta, {C}, name, "beta");
  check_shape(running_mean, {C}, name, "running_mean");
  check_shape(running_var, {C}, name, "running_var");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var})
    check_same_device(x, *t, name);
  if (training && x.numel() == 0)
    throw std::invalid_argument(std::string(name) + ": x " + shape_str(x.shape()) + " has no rows to normalise over");
  Tensor y = Tensor::empty(x.shape(), x.device(), x.dtype());
  if (training) {
    Tensor mean = Tensor::empty({C}, x.device()), invstd = Tensor::empty({C}, x.device());
    return record_op(
        {name}, {x, gamma, beta}, y,
        [&] {
          CS_DISPATCH(x.device(), batch_norm_forward_train, x, gamma, beta, relu, y, mean, invstd, running_mean,
                      running_var, decay, eps);
        },
        [x, gamma, beta, relu, mean, invstd](const Tensor& dy) {
          const GradOut dx = grad_out(x), dg = grad_out(gamma), db = grad_out(beta);
          if (x.dtype() == DType::BF16)
            CS_DISPATCH_CPU_ONLY(x.device(), batch_norm_backward_train, x, gamma, beta, relu, mean, invstd, dy,
                                 dx.ptr_bf16, dx.beta, dg.ptr, dg.beta, db.ptr, db.beta);
          else
            CS_DISPATCH(x.device(), batch_norm_backward_train, x, gamma, beta, relu, mean, invstd, dy, dx.ptr,
                        dx.beta, dg.ptr, dg.beta, db.ptr, db.beta);
        });
  }
  // The statistics this output used, kept for the backward (copied only when one can follow).
  Tensor rm, rv;
  if (Tape::get().should_record({x, gamma, beta})) {
    rm = running_mean.clone();
    rv = running_var.clone();
  }
  return record_op(
      {name}, {x, gamma, beta}, y,
      [&] {
        CS_DISPATCH(x.device(), batch_norm_forward_infer, x, gamma, beta, relu, running_mean, running_var, y, eps);
      },
      [x, gamma, beta, relu, rm, rv, eps](const Tensor& dy) {
        const GradOut dx = grad_out(x), dg = grad_out(gamma), db = grad_out(beta);
        if (x.dtype() == DType::BF16)
          CS_DISPATCH_CPU_ONLY(x.device(), batch_norm_backward_infer, x, gamma, beta, relu, rm, rv, eps, dy,
                               dx.ptr_bf16, dx.beta, dg.ptr, dg.beta, db.ptr, db.beta);
        else
          CS_DISPATCH(x.device(), batch_norm_backward_infer, x, gamma, beta, relu, rm, rv, eps, dy, dx.ptr, dx.beta,
                      dg.ptr, dg.beta, db.ptr, db.beta);
      });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float decay, float eps) {
  return normalise("batch_norm", false, x, gamma, beta, running_mean, running_var, training, decay, eps);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, bool training, float decay, float eps) {
  return normalise("batch_norm_relu", true, x, gamma, beta, running_mean, running_var, training, decay, eps);
}

}  // namespace cs
