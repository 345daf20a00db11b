#include "autograd/tensor.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "autograd/allocator.h"

namespace cs {

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(s));
    n *= d;
  }
  return n;
}

Storage::Storage(Device d, size_t b) : device(d), bytes(b), owned(true) {
  ptr = static_cast<float*>(device_alloc(d, b));
}
Storage::Storage(Device d, float* external, size_t b)
    : device(d), bytes(b), ptr(external), owned(false) {}
Storage::~Storage() {
  if (owned) device_free(device, ptr, bytes);
}

namespace {
std::shared_ptr<TensorImpl> make_impl(const Shape& shape, Device d) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->storage = std::make_shared<Storage>(d, sizeof(float) * shape_numel(shape));
  return impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, Device d) { return Tensor(make_impl(shape, d)); }

Tensor Tensor::zeros(const Shape& shape, Device d) {
  Tensor t = empty(shape, d);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device d) {
  Tensor t = empty(shape, d);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& v, Device d) {
  if (static_cast<int64_t>(v.size()) != shape_numel(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(v.size()) +
                                " values for shape " + shape_str(shape));
  Tensor t = empty(shape, d);
  copy_bytes(t.data(), d, v.data(), Device::CPU, v.size() * sizeof(float));
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, size_t offset, const Shape& shape) {
  if ((offset + shape_numel(shape)) * sizeof(float) > storage->bytes)
    throw std::out_of_range("view_of: view " + shape_str(shape) + " past the end of its storage");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->storage = std::move(storage);
  impl->offset = offset;
  return Tensor(impl);
}

const Shape& Tensor::shape() const { return impl_->shape; }
int64_t Tensor::dim(int i) const {
  const int n = ndim();
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw std::out_of_range("dim " + std::to_string(i) + " of " + shape_str(shape()));
  return impl_->shape[i];
}
int64_t Tensor::numel() const { return shape_numel(impl_->shape); }
Device Tensor::device() const { return impl_->storage->device; }
float* Tensor::data() { return impl_->storage->ptr + impl_->offset; }
const float* Tensor::data() const { return impl_->storage->ptr + impl_->offset; }

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(numel());
  copy_bytes(v.data(), Device::CPU, data(), device(), v.size() * sizeof(float));
  return v;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor t = empty(shape(), d);
  copy_bytes(t.data(), d, data(), device(), numel() * sizeof(float));
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), device());
  copy_bytes(t.data(), device(), data(), device(), numel() * sizeof(float));
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.numel() != numel())
    throw std::invalid_argument("copy_from: " + shape_str(src.shape()) + " into " + shape_str(shape()));
  copy_bytes(data(), device(), src.data(), src.device(), numel() * sizeof(float));
}

void Tensor::fill_(float v) {
  if (v == 0.0f) {
    zero_();
    return;
  }
  if (device() == Device::CPU) {
    float* p = data();
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = v;
  } else {  // rare (initialisation): stage on the host
    std::vector<float> h(numel(), v);
    copy_bytes(data(), device(), h.data(), Device::CPU, h.size() * sizeof(float));
  }
}

void Tensor::zero_() { fill_zero(data(), device(), numel() * sizeof(float)); }

Tensor Tensor::reshape(const Shape& s) const {
  if (shape_numel(s) != numel())
    throw std::invalid_argument("reshape: " + shape_str(shape()) + " to " + shape_str(s));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  return Tensor(impl);
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
Tensor& Tensor::set_requires_grad(bool r) {
  impl_->requires_grad = r;
  return *this;
}
const std::string& Tensor::name() const { return impl_->name; }
Tensor& Tensor::set_name(const std::string& n) {
  impl_->name = n;
  return *this;
}

bool Tensor::has_grad() const { return impl_->grad != nullptr && impl_->grad_state == GradState::Valid; }
Tensor Tensor::grad() const {
  if (!impl_->grad) return Tensor();
  if (impl_->grad_state == GradState::Stale) {  // never written since zero_grad: it is zero
    Tensor g(impl_->grad);
    g.zero_();
    impl_->grad_state = GradState::Valid;
  }
  return Tensor(impl_->grad);
}

float* Tensor::grad_for_write(float* beta) const {
  if (!impl_->grad) {
    impl_->grad = make_impl(shape(), device());
    impl_->grad_state = GradState::Stale;
  }
  *beta = impl_->grad_state == GradState::Valid ? 1.0f : 0.0f;
  impl_->grad_state = GradState::Valid;
  Tensor g(impl_->grad);
  return g.data();
}

void Tensor::set_grad_view(Tensor g) {
  if (g.shape() != shape()) throw std::invalid_argument("set_grad_view: shape mismatch");
  impl_->grad = g.impl_ptr();
  impl_->grad_state = GradState::Stale;
}
void Tensor::zero_grad() {
  if (impl_->grad) impl_->grad_state = GradState::Stale;
}
void Tensor::mark_grad_zeroed() {
  if (impl_->grad) impl_->grad_state = GradState::Valid;
}
void Tensor::clear_grad() {
  impl_->grad.reset();
  impl_->grad_state = GradState::None;
}

void check_shape(const Tensor& t, const Shape& expected, const char* op, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is undefined");
  if (t.shape() != expected)
    throw std::invalid_argument(std::string(op) + ": " + what + " has shape " + shape_str(t.shape()) +
                                ", expected " + shape_str(expected));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (a.device() != b.device())
    throw std::invalid_argument(std::string(op) + ": tensors on different devices (" +
                                device_name(a.device()) + " and " + device_name(b.device()) + ")");
}

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": input is undefined");
}

void check_ndim(const Tensor& t, int ndim, const char* op, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is undefined");
  if (t.ndim() != ndim)
    throw std::invalid_argument(std::string(op) + ": " + what + " must have " + std::to_string(ndim) +
                                " dimensions, got " + shape_str(t.shape()));
}

}  // namespace cs
