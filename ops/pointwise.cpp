// relu, add, mul, scale, sum, mean, reshape/flatten.
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace cs {

Tensor relu(const Tensor& x) {
  check_defined(x, "relu");
  Tensor y = Tensor::empty(x.shape(), x.device());
  {
    OpScope s("relu");
    CS_DISPATCH(x.device(), relu_forward, x, y);
  }
  auto& tape = Tape::get();
  if (tape.should_record({&x}))
    tape.record("relu", {x}, y, [x, y]() mutable {
      float b = 0;
      float* dx = x.grad_for_write(&b);
      CS_DISPATCH(x.device(), relu_backward, y, y.grad(), dx, b);
    });
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) {
  check_shape(b, a.shape(), "add", "b");
  check_same_device(a, b, "add");
  Tensor y = Tensor::empty(a.shape(), a.device());
  CS_DISPATCH(a.device(), add_forward, a, b, y);
  auto& tape = Tape::get();
  if (tape.should_record({&a, &b}))
    tape.record("add", {a, b}, y, [a, b, y]() mutable {
      Tensor dy = y.grad();
      for (const Tensor* t : {&a, &b}) {
        if (!t->requires_grad()) continue;
        float beta = 0;
        float* dt = t->grad_for_write(&beta);  // sets beta: evaluate before the call
        CS_DISPATCH(t->device(), axpby, dy, 1.0f, dt, beta);
      }
    });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_shape(b, a.shape(), "mul", "b");
  check_same_device(a, b, "mul");
  Tensor y = Tensor::empty(a.shape(), a.device());
  CS_DISPATCH(a.device(), mul_forward, a, b, y);
  auto& tape = Tape::get();
  if (tape.should_record({&a, &b}))
    tape.record("mul", {a, b}, y, [a, b, y]() mutable {
      float ba = 0, bb = 0;
      float* da = a.requires_grad() ? a.grad_for_write(&ba) : nullptr;
      float* db = b.requires_grad() ? b.grad_for_write(&bb) : nullptr;
      CS_DISPATCH(a.device(), mul_backward, a, b, y.grad(), da, ba, db, bb);
    });
  return y;
}

Tensor scale(const Tensor& x, float s) {
  check_defined(x, "scale");
  Tensor y = Tensor::empty(x.shape(), x.device());
  CS_DISPATCH(x.device(), axpby, x, s, y.data(), 0.0f);
  auto& tape = Tape::get();
  if (tape.should_record({&x}))
    tape.record("scale", {x}, y, [x, y, s]() mutable {
      float b = 0;
      float* dx = x.grad_for_write(&b);
      CS_DISPATCH(x.device(), axpby, y.grad(), s, dx, b);
    });
  return y;
}

namespace {
Tensor reduce_all(const Tensor& x, float factor, const char* name) {
  check_defined(x, name);
  Tensor y = Tensor::empty({1}, x.device());
  CS_DISPATCH(x.device(), sum_forward, x, y);
  if (factor != 1.0f) CS_DISPATCH(x.device(), axpby, y, factor, y.data(), 0.0f);
  auto& tape = Tape::get();
  if (tape.should_record({&x}))
    tape.record(name, {x}, y, [x, y, factor]() mutable {
      float b = 0;
      float* dx = x.grad_for_write(&b);
      CS_DISPATCH(x.device(), broadcast_scalar_backward, y.grad(), factor, dx, b, x.numel());
    });
  return y;
}
}  // namespace

Tensor sum(const Tensor& x) { return reduce_all(x, 1.0f, "sum"); }
Tensor mean(const Tensor& x) { return reduce_all(x, 1.0f / static_cast<float>(x.numel()), "mean"); }

Tensor reshape(const Tensor& x, const Shape& s) {
  Tensor y = x.reshape(s);
  auto& tape = Tape::get();
  if (tape.should_record({&x}))
    tape.record("reshape", {x}, y, [x, y]() mutable {
      float b = 0;
      float* dx = x.grad_for_write(&b);
      CS_DISPATCH(x.device(), axpby, y.grad(), 1.0f, dx, b);
    });
  return y;
}

Tensor flatten(const Tensor& x) {
  if (x.ndim() < 2) throw std::invalid_argument("flatten: x must be [N, ...], got " + shape_str(x.shape()));
  return reshape(x, {x.dim(0), x.numel() / x.dim(0)});
}

}  // namespace cs
