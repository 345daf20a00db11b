#pragma once
// ParamStore: every trainable parameter of a model in ONE contiguous arena, with named views.
//
// Five arenas of floats, all with the same layout for the trainable part:
//   params  the weights               grads   d(loss)/d(weights), attached as gradient views
//   adam_m  Adam first moments        adam_v  Adam second moments
//   buffers non-trainable state (BN running mean / variance), its own layout
// A parameter is a Tensor view into the params arena (Tensor::view_of), so that a checkpoint is
// one pass over one block of memory, zero_grad is one memset, and Adam is one pass over four
// arrays. Each view starts on a 64-byte boundary (16 floats); the padding stays zero.
//
// Use: declare every tensor (declare_param / declare_buffer), then allocate(device) once. The
// Tensor handles returned by param() / buffer() stay valid across to(device): a device move
// rebinds the storage of the same TensorImpl, so models may keep the handles.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace cs {

// What a tensor is, so that initialisation (nn/init.h) needs no name parsing.
enum class ParamKind { ConvWeight, ConvBias, BNGamma, BNBeta, DenseWeight, BNMean, BNVar };

struct ParamEntry {
  std::string name;
  Shape shape;
  ParamKind kind;
  size_t offset = 0;  // in floats, inside its arena
  int64_t numel = 0;
};

class ParamStore {
 public:
  ParamStore() = default;
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;

  // ---- declaration (before allocate). Names must be unique across params and buffers.
  void declare_param(const std::string& name, const Shape& shape, ParamKind kind);
  void declare_buffer(const std::string& name, const Shape& shape, ParamKind kind);
  // Creates the arenas on `d`, all zero, and the views. Every param requires grad.
  void allocate(Device d = Device::CPU);
  bool allocated() const { return allocated_; }

  // ---- lookup (throw std::out_of_range naming the tensor when it does not exist)
  bool has_param(const std::string& name) const { return param_index_.count(name) > 0; }
  bool has_buffer(const std::string& name) const { return buffer_index_.count(name) > 0; }
  Tensor& param(const std::string& name);
  Tensor& buffer(const std::string& name);
  const Tensor& param(const std::string& name) const;
  const Tensor& buffer(const std::string& name) const;
  Tensor grad(const std::string& name) const;  // the arena view holding this param's gradient
  size_t param_index(const std::string& name) const;

  size_t num_params() const { return param_entries_.size(); }
  size_t num_buffers() const { return buffer_entries_.size(); }
  const ParamEntry& param_entry(size_t i) const { return param_entries_.at(i); }
  const ParamEntry& buffer_entry(size_t i) const { return buffer_entries_.at(i); }
  Tensor& param_at(size_t i) { return params_.at(i); }
  Tensor& buffer_at(size_t i) { return buffers_.at(i); }
  const Tensor& param_at(size_t i) const { return params_.at(i); }
  const Tensor& buffer_at(size_t i) const { return buffers_.at(i); }
  Tensor grad_at(size_t i) const { return grads_.at(i); }
  Tensor adam_m_at(size_t i) const { return ms_.at(i); }
  Tensor adam_v_at(size_t i) const { return vs_.at(i); }

  // Names (in declaration order) starting with `prefix`.
  std::vector<std::string> param_names(const std::string& prefix = "") const;
  std::vector<std::string> buffer_names(const std::string& prefix = "") const;

  // Whole arenas as flat tensors (sizes include the alignment padding).
  Tensor param_arena() const { return flat(param_storage_, param_floats_); }
  Tensor grad_arena() const { return flat(grad_storage_, param_floats_); }
  Tensor adam_m_arena() const { return flat(m_storage_, param_floats_); }
  Tensor adam_v_arena() const { return flat(v_storage_, param_floats_); }
  Tensor buffer_arena() const { return flat(buffer_storage_, buffer_floats_); }
  size_t param_arena_floats() const { return param_floats_; }

  int64_t param_count() const;            // sum of numel over all params (no padding)
  int64_t trainable_param_count() const;  // over params that require grad

  // One memset of the gradient arena; every param's gradient then reads as zero and the next
  // backward accumulates into it (beta 1).
  void zero_grad();

  // requires_grad = !frozen on every param whose name starts with `prefix`; returns how many.
  // Throws std::invalid_argument when the prefix matches no parameter (a typo must not silently
  // leave a part of the network trainable).
  int set_frozen(const std::string& prefix, bool frozen = true);
  int freeze(const std::string& prefix) { return set_frozen(prefix, true); }
  int unfreeze(const std::string& prefix) { return set_frozen(prefix, false); }
  bool trainable(size_t i) const { return params_.at(i).requires_grad(); }
  // Maximal runs [begin, end) in floats of consecutive trainable params in the arenas, padding
  // included, so that the optimiser makes one pass per run.
  std::vector<std::pair<size_t, size_t>> trainable_spans() const;

  Device device() const { return device_; }
  // Moves every arena (params, grads, Adam moments, buffers) to `d`; handles stay valid.
  void to(Device d);

 private:
  static Tensor flat(const std::shared_ptr<Storage>& s, size_t n);
  void check_declaring(const std::string& name) const;
  void check_allocated(const char* what) const;

  std::vector<ParamEntry> param_entries_, buffer_entries_;
  std::map<std::string, size_t> param_index_, buffer_index_;
  size_t param_floats_ = 0, buffer_floats_ = 0;
  bool allocated_ = false;
  Device device_ = Device::CPU;
  std::shared_ptr<Storage> param_storage_, grad_storage_, m_storage_, v_storage_, buffer_storage_;
  std::vector<Tensor> params_, grads_, ms_, vs_, buffers_;
};

}  // namespace cs
