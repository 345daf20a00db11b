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

const char* dtype_name(DType t) { return t == DType::BF16 ? "bf16" : "fp32"; }
size_t dtype_size(DType t) { return t == DType::BF16 ? sizeof(bf16) : sizeof(float); }

Storage::Storage(Device d, size_t b) : device(d), bytes(b), owned(true) {
  ptr = static_cast<float*>(device_alloc(d, b));
}
Storage::Storage(Device d, float* external, size_t b)
    : device(d), bytes(b), ptr(external), owned(false) {}
Storage::~Storage() {
  if (owned) device_free(device, ptr, bytes);
}

namespace {
std::shared_ptr<TensorImpl> make_impl(const Shape& shape, Device d, DType t) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = t;
  impl->storage = std::make_shared<Storage>(d, dtype_size(t) * shape_numel(shape));
  return impl;
}

[[noreturn]] void wrong_type(const Tensor& t, const char* wanted) {
  throw std::logic_error(std::string("tensor ") + (t.name().empty() ? "" : "'" + t.name() + "' ") +
                         shape_str(t.shape()) + " is " + dtype_name(t.dtype()) + ", read as " + wanted +
                         " (an op without a kernel for this type)");
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, Device d, DType t) { return Tensor(make_impl(shape, d, t)); }

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
DType Tensor::dtype() const { return impl_->dtype; }
size_t Tensor::nbytes() const { return dtype_size(dtype()) * numel(); }

void* Tensor::raw() { return reinterpret_cast<char*>(impl_->storage->ptr) + impl_->offset * dtype_size(dtype()); }
const void* Tensor::raw() const {
  return reinterpret_cast<const char*>(impl_->storage->ptr) + impl_->offset * dtype_size(dtype());
}
float* Tensor::data() {
  if (dtype() != DType::F32) wrong_type(*this, "fp32");
  return static_cast<float*>(raw());
}
const float* Tensor::data() const {
  if (dtype() != DType::F32) wrong_type(*this, "fp32");
  return static_cast<const float*>(raw());
}
bf16* Tensor::data_bf16() {
  if (dtype() != DType::BF16) wrong_type(*this, "bf16");
  return static_cast<bf16*>(raw());
}
const bf16* Tensor::data_bf16() const {
  if (dtype() != DType::BF16) wrong_type(*this, "bf16");
  return static_cast<const bf16*>(raw());
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(numel());
  if (dtype() == DType::F32) {
    copy_bytes(v.data(), Device::CPU, raw(), device(), nbytes());
    return v;
  }
  std::vector<bf16> h(numel());
  copy_bytes(h.data(), Device::CPU, raw(), device(), nbytes());
  for (size_t i = 0; i < h.size(); ++i) v[i] = to_float(h[i]);
  return v;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor t = empty(shape(), d, dtype());
  copy_bytes(t.raw(), d, raw(), device(), nbytes());
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), device(), dtype());
  copy_bytes(t.raw(), device(), raw(), device(), nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.numel() != numel() || src.dtype() != dtype())
    throw std::invalid_argument("copy_from: " + std::string(dtype_name(src.dtype())) + " " + shape_str(src.shape()) +
                                " into " + dtype_name(dtype()) + " " + shape_str(shape()));
  copy_bytes(raw(), device(), src.raw(), src.device(), nbytes());
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

void Tensor::zero_() { fill_zero(raw(), device(), nbytes()); }

Tensor Tensor::reshape(const Shape& s) const {
  if (shape_numel(s) != numel())
    throw std::invalid_argument("reshape: " + shape_str(shape()) + " to " + shape_str(s));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->dtype = impl_->dtype;
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
  if (dtype() != DType::F32) wrong_type(*this, "fp32 for its gradient");
  return static_cast<float*>(grad_buffer(beta));
}

bf16* Tensor::grad_for_write_bf16(float* beta) const {
  if (dtype() != DType::BF16) wrong_type(*this, "bf16 for its gradient");
  return static_cast<bf16*>(grad_buffer(beta));
}

void* Tensor::grad_buffer(float* beta) const {
  if (!impl_->grad) {
    impl_->grad = make_impl(shape(), device(), dtype());
    impl_->grad_state = GradState::Stale;
  }
  *beta = impl_->grad_state == GradState::Valid ? 1.0f : 0.0f;
  impl_->grad_state = GradState::Valid;
  Tensor g(impl_->grad);
  return g.raw();
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

void check_dtype(const Tensor& t, DType expected, const char* op, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is undefined");
  if (t.dtype() != expected)
    throw std::invalid_argument(std::string(op) + ": " + what + " " + shape_str(t.shape()) + " is " +
                                dtype_name(t.dtype()) + ", expected " + dtype_name(expected));
}

void check_ndim(const Tensor& t, int ndim, const char* op, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is undefined");
  if (t.ndim() != ndim)
    throw std::invalid_argument(std::string(op) + ": " + what + " must have " + std::to_string(ndim) +
                                " dimensions, got " + shape_str(t.shape()));
}

}  // namespace cs
