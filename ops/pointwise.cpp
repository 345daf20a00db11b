// relu, add, mul, scale, sum, mean, reshape, flatten (ops/pointwise.h): shape checks, then each
// op's forward kernel and tape node through record_op.
#include "ops/pointwise.h"

#include <stdexcept>

#include "autograd/record_op.h"
#include "ops/dispatch.h"

namespace cs {

Tensor relu(const Tensor& x) {
  check_defined(x, "relu");
  Tensor y = Tensor::empty(x.shape(), x.device());
  return record_op({"relu"}, {x}, y, [&] { CS_DISPATCH(x.device(), relu_forward, x, y); },
                   [x, y](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     CS_DISPATCH(x.device(), relu_backward, y, dy, dx.ptr, dx.beta);
                   });
}

Tensor add(const Tensor& a, const Tensor& b) {
  check_defined(a, "add");
  check_shape(b, a.shape(), "add", "b");
  check_same_device(a, b, "add");
  Tensor y = Tensor::empty(a.shape(), a.device());
  return record_op({"add"}, {a, b}, y, [&] { CS_DISPATCH(a.device(), add_forward, a, b, y); },
                   [a, b](const Tensor& dy) {
                     for (const Tensor* t : {&a, &b}) {
                       const GradOut dt = grad_out(*t);  // add(x, x): the second write accumulates
                       if (dt.ptr) CS_DISPATCH(t->device(), axpby, dy, 1.0f, dt.ptr, dt.beta);
                     }
                   });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_defined(a, "mul");
  check_shape(b, a.shape(), "mul", "b");
  check_same_device(a, b, "mul");
  Tensor y = Tensor::empty(a.shape(), a.device());
  return record_op({"mul"}, {a, b}, y, [&] { CS_DISPATCH(a.device(), mul_forward, a, b, y); },
                   [a, b](const Tensor& dy) {
                     const GradOut da = grad_out(a), db = grad_out(b);
                     CS_DISPATCH(a.device(), mul_backward, a, b, dy, da.ptr, da.beta, db.ptr, db.beta);
                   });
}

Tensor scale(const Tensor& x, float s) {
  check_defined(x, "scale");
  Tensor y = Tensor::empty(x.shape(), x.device());
  return record_op({"scale"}, {x}, y, [&] { CS_DISPATCH(x.device(), axpby, x, s, y.data(), 0.0f); },
                   [x, s](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     CS_DISPATCH(x.device(), axpby, dy, s, dx.ptr, dx.beta);
                   });
}

namespace {
Tensor reduce_all(const Tensor& x, float factor, const char* name) {  // x any shape -> [1]
  check_defined(x, name);
  Tensor y = Tensor::empty({1}, x.device());
  return record_op({name}, {x}, y,
                   [&] {
                     CS_DISPATCH(x.device(), sum_forward, x, y);
                     if (factor != 1.0f) CS_DISPATCH(x.device(), axpby, y, factor, y.data(), 0.0f);
                   },
                   [x, factor](const Tensor& dy) {
                     const GradOut dx = grad_out(x);
                     CS_DISPATCH(x.device(), broadcast_scalar_backward, dy, factor, dx.ptr, dx.beta, x.numel());
                   });
}
}  // namespace

Tensor sum(const Tensor& x) { return reduce_all(x, 1.0f, "sum"); }
Tensor mean(const Tensor& x) {
  check_defined(x, "mean");
  return reduce_all(x, 1.0f / static_cast<float>(x.numel()), "mean");
}

Tensor reshape(const Tensor& x, const Shape& s) {
  check_defined(x, "reshape");
  Tensor y = x.reshape(s);  // a view: no forward work
  return record_op({"reshape"}, {x}, y, [] {}, [x](const Tensor& dy) {
    const GradOut dx = grad_out(x);
    CS_DISPATCH(x.device(), axpby, dy, 1.0f, dx.ptr, dx.beta);
  });
}

Tensor flatten(const Tensor& x) {
  check_defined(x, "flatten");
  if (x.ndim() < 2) throw std::invalid_argument("flatten: x must be [N, ...], got " + shape_str(x.shape()));
  return reshape(x, {x.dim(0), x.numel() / x.dim(0)});
}

}  // namespace cs
