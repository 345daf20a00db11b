// batch_norm (ops/batch_norm.h): shape checks, the kernel calls and the tape node.
#include "ops/batch_norm.h"

#include <initializer_list>
#include <stdexcept>

#include "ops/dispatch.h"

namespace cs {

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float decay, float eps) {
  if (!x.defined() || x.ndim() < 2) throw std::invalid_argument("batch_norm: x must be [..., C]");
  const int64_t C = x.dim(-1);
  check_shape(gamma, {C}, "batch_norm", "gamma");
  check_shape(beta, {C}, "batch_norm", "beta");
  check_shape(running_mean, {C}, "batch_norm", "running_mean");
  check_shape(running_var, {C}, "batch_norm", "running_var");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var})
    check_same_device(x, *t, "batch_norm");
  if (training && x.numel() == 0)
    throw std::invalid_argument("batch_norm: x " + shape_str(x.shape()) + " has no rows to normalise over");
  Tensor y = Tensor::empty(x.shape(), x.device());
  auto& tape = Tape::get();
  const bool record = tape.should_record({&x, &gamma, &beta});
  if (training) {
    Tensor mean = Tensor::empty({C}, x.device()), invstd = Tensor::empty({C}, x.device());
    {
      OpScope s("batch_norm");
      CS_DISPATCH(x.device(), batch_norm_forward_train, x, gamma, beta, y, mean, invstd, running_mean, running_var,
                  decay, eps);
    }
    if (record)
      tape.record("batch_norm", {x, gamma, beta}, y, [x, gamma, beta, mean, invstd](const Tensor& dy) {
        const GradOut dx = grad_out(x), dg = grad_out(gamma), db = grad_out(beta);
        CS_DISPATCH(x.device(), batch_norm_backward_train, x, gamma, mean, invstd, dy, dx.ptr, dx.beta, dg.ptr,
                    dg.beta, db.ptr, db.beta);
      });
    return y;
  }
  {
    OpScope s("batch_norm");
    CS_DISPATCH(x.device(), batch_norm_forward_infer, x, gamma, beta, running_mean, running_var, y, eps);
  }
  if (record) {
    Tensor rm = running_mean.clone(), rv = running_var.clone();  // the statistics this output used
    tape.record("batch_norm", {x, gamma, beta}, y, [x, gamma, beta, rm, rv, eps](const Tensor& dy) {
      const GradOut dx = grad_out(x), dg = grad_out(gamma), db = grad_out(beta);
      CS_DISPATCH(x.device(), batch_norm_backward_infer, x, gamma, rm, rv, eps, dy, dx.ptr, dx.beta, dg.ptr,
                  dg.beta, db.ptr, db.beta);
    });
  }
  return y;
}

}  // namespace cs
