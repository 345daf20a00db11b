#pragma once
// Tensor: contiguous, on one device. Activations are channels-last, [N, H, W, C].
// A Tensor is a cheap handle (shared_ptr) to its data, its shape and, when it takes part in
// autograd, its gradient. Views (reshape) share storage; there is no general striding.
//
// Elements are float32, or bfloat16 for the activations of a bf16 step on a CPU whose kernels
// take bf16 (ops/precision.h): those ops read and write half the bytes. A gradient has its
// tensor's type. data() is the float32 view and refuses a bf16 tensor, so an op that has no
// bf16 kernel says so instead of reading the wrong bytes.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "autograd/device.h"
#include "autograd/precision.h"  // bf16

namespace cs {

using Shape = std::vector<int64_t>;

enum class DType { F32, BF16 };
const char* dtype_name(DType t);  // "fp32" | "bf16"
size_t dtype_size(DType t);        // bytes per element

std::string shape_str(const Shape& s);  // "[20, 192, 192, 16]"
int64_t shape_numel(const Shape& s);

// Raw memory owned by the caching allocator of its device.
struct Storage {
  Storage(Device d, size_t bytes);
  Storage(Device d, float* external, size_t bytes);  // non-owning (arena views own nothing)
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Device device;
  size_t bytes;
  float* ptr;
  bool owned;
};

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. empty() leaves the contents uninitialised.
  static Tensor empty(const Shape& shape, Device d = Device::CPU, DType t = DType::F32);
  static Tensor zeros(const Shape& shape, Device d = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device d = Device::CPU);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values,
                            Device d = Device::CPU);
  // A tensor over part of a storage that others share (e.g. a parameter arena), from float
  // offset_floats on; it holds a reference to the storage, so the memory outlives it.
  static Tensor view_of(std::shared_ptr<Storage> storage, size_t offset_floats, const Shape& shape);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim(int i) const;  // negative i counts from the end
  int ndim() const { return static_cast<int>(shape().size()); }
  int64_t numel() const;
  Device device() const;
  DType dtype() const;
  size_t nbytes() const;  // numel * dtype_size
  bool is_cuda() const { return device() == Device::CUDA; }

  float* data();              // fp32 tensors only (throws on bf16)
  const float* data() const;
  bf16* data_bf16();          // bf16 tensors only (throws on fp32)
  const bf16* data_bf16() const;
  void* raw();                // either type, for kernels that take a type tag
  const void* raw() const;

  std::vector<float> to_vector() const;   // host copy, as float32 whatever the type
  Tensor to(Device d) const;               // copy (or the same tensor if already there)
  Tensor clone() const;
  void copy_from(const Tensor& src);       // same numel and type, any devices
  void fill_(float v);
  void zero_();
  Tensor reshape(const Shape& s) const;    // shares storage; no autograd (see ops::reshape)

  // ---- autograd
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r);
  const std::string& name() const;
  Tensor& set_name(const std::string& n);

  bool has_grad() const;
  Tensor grad() const;  // the gradient buffer (undefined if none yet)
  // Gradient buffer for a backward kernel to write into, and the beta it must use:
  // 0 on the first write since the last zero_grad (the buffer may hold garbage), 1 afterwards
  // (accumulate). Allocates the buffer on first use.
  float* grad_for_write(float* beta) const;  // const: the handle is unchanged. fp32 tensors
  bf16* grad_for_write_bf16(float* beta) const;  // the same for a bf16 tensor
  void set_grad_view(Tensor g);  // use g's memory as this tensor's gradient (parameter arenas)
  void zero_grad();              // next grad_for_write overwrites (beta 0)
  void mark_grad_zeroed();       // caller zeroed the buffer itself (arena memset): accumulate
  void clear_grad();             // drop the gradient buffer

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  void* grad_buffer(float* beta) const;
  std::shared_ptr<TensorImpl> impl_;
};

enum class GradState { None, Stale, Valid };

struct TensorImpl {
  Shape shape;
  DType dtype = DType::F32;
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // in elements
  bool requires_grad = false;
  std::string name;
  std::shared_ptr<TensorImpl> grad;
  GradState grad_state = GradState::None;
};

// Checks with clear messages; the message names the op and the shapes.
void check_shape(const Tensor& t, const Shape& expected, const char* op, const char* what);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_defined(const Tensor& t, const char* op);
void check_ndim(const Tensor& t, int ndim, const char* op, const char* what);
void check_dtype(const Tensor& t, DType expected, const char* op, const char* what);

}  // namespace cs
