#include "nn/params.h"

#include <stdexcept>

#include "autograd/allocator.h"

namespace cs {
namespace {
constexpr size_t kAlignFloats = 16;  // 64 bytes: every view starts on a cache line
size_t align_up(size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

std::shared_ptr<Storage> make_arena(Device d, size_t floats) {
  auto s = std::make_shared<Storage>(d, sizeof(float) * floats);
  fill_zero(s->ptr, d, sizeof(float) * floats);
  return s;
}

// Copies an arena to device d and points every view of `views` at the copy.
std::shared_ptr<Storage> move_arena(const std::shared_ptr<Storage>& src, Device d, size_t floats,
                                    std::vector<Tensor>& views) {
  auto dst = std::make_shared<Storage>(d, sizeof(float) * floats);
  copy_bytes(dst->ptr, d, src->ptr, src->device, sizeof(float) * floats);
  for (Tensor& t : views) t.impl()->storage = dst;
  return dst;
}
}  // namespace

void ParamStore::check_declaring(const std::string& name) const {
  if (allocated_)
    throw std::logic_error("ParamStore: cannot declare '" + name + "' after allocate()");
  if (name.empty()) throw std::invalid_argument("ParamStore: empty tensor name");
  if (param_index_.count(name) || buffer_index_.count(name))
    throw std::invalid_argument("ParamStore: tensor '" + name + "' declared twice");
}

void ParamStore::check_allocated(const char* what) const {
  if (!allocated_) throw std::logic_error(std::string("ParamStore::") + what + " before allocate()");
}

void ParamStore::declare_param(const std::string& name, const Shape& shape, ParamKind kind) {
  check_declaring(name);
  ParamEntry e{name, shape, kind, param_floats_, shape_numel(shape)};
  param_floats_ = align_up(param_floats_ + e.numel);
  param_index_[name] = param_entries_.size();
  param_entries_.push_back(e);
}

void ParamStore::declare_buffer(const std::string& name, const Shape& shape, ParamKind kind) {
  check_declaring(name);
  ParamEntry e{name, shape, kind, buffer_floats_, shape_numel(shape)};
  buffer_floats_ = align_up(buffer_floats_ + e.numel);
  buffer_index_[name] = buffer_entries_.size();
  buffer_entries_.push_back(e);
}

void ParamStore::allocate(Device d) {
  if (allocated_) throw std::logic_error("ParamStore::allocate called twice");
  device_ = d;
  param_storage_ = make_arena(d, param_floats_);
  grad_storage_ = make_arena(d, param_floats_);
  m_storage_ = make_arena(d, param_floats_);
  v_storage_ = make_arena(d, param_floats_);
  buffer_storage_ = make_arena(d, buffer_floats_);
  for (const ParamEntry& e : param_entries_) {
    Tensor p = Tensor::view_of(param_storage_, e.offset, e.shape);
    Tensor g = Tensor::view_of(grad_storage_, e.offset, e.shape);
    p.set_name(e.name).set_requires_grad(true);
    g.set_name(e.name + ".grad");
    p.set_grad_view(g);
    params_.push_back(p);
    grads_.push_back(g);
    ms_.push_back(Tensor::view_of(m_storage_, e.offset, e.shape).set_name(e.name + ".adam_m"));
    vs_.push_back(Tensor::view_of(v_storage_, e.offset, e.shape).set_name(e.name + ".adam_v"));
  }
  for (const ParamEntry& e : buffer_entries_) {
    Tensor b = Tensor::view_of(buffer_storage_, e.offset, e.shape);
    b.set_name(e.name);
    buffers_.push_back(b);
  }
  allocated_ = true;
}

size_t ParamStore::param_index(const std::string& name) const {
  auto it = param_index_.find(name);
  if (it == param_index_.end()) throw std::out_of_range("ParamStore: no parameter named '" + name + "'");
  return it->second;
}

Tensor& ParamStore::param(const std::string& name) {
  check_allocated("param");
  return params_[param_index(name)];
}

Tensor& ParamStore::buffer(const std::string& name) {
  check_allocated("buffer");
  auto it = buffer_index_.find(name);
  if (it == buffer_index_.end()) throw std::out_of_range("ParamStore: no buffer named '" + name + "'");
  return buffers_[it->second];
}

const Tensor& ParamStore::param(const std::string& name) const {
  check_allocated("param");
  return params_[param_index(name)];
}

const Tensor& ParamStore::buffer(const std::string& name) const {
  check_allocated("buffer");
  auto it = buffer_index_.find(name);
  if (it == buffer_index_.end()) throw std::out_of_range("ParamStore: no buffer named '" + name + "'");
  return buffers_[it->second];
}

Tensor ParamStore::grad(const std::string& name) const {
  check_allocated("grad");
  return grads_[param_index(name)];
}

std::vector<std::string> ParamStore::param_names(const std::string& prefix) const {
  std::vector<std::string> r;
  for (const auto& e : param_entries_)
    if (e.name.compare(0, prefix.size(), prefix) == 0) r.push_back(e.name);
  return r;
}

std::vector<std::string> ParamStore::buffer_names(const std::string& prefix) const {
  std::vector<std::string> r;
  for (const auto& e : buffer_entries_)
    if (e.name.compare(0, prefix.size(), prefix) == 0) r.push_back(e.name);
  return r;
}

Tensor ParamStore::flat(const std::shared_ptr<Storage>& s, size_t n) {
  if (!s) throw std::logic_error("ParamStore: arena requested before allocate()");
  return Tensor::view_of(s, 0, {static_cast<int64_t>(n)});
}

int64_t ParamStore::param_count() const {
  int64_t n = 0;
  for (const auto& e : param_entries_) n += e.numel;
  return n;
}

int64_t ParamStore::trainable_param_count() const {
  check_allocated("trainable_param_count");
  int64_t n = 0;
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].requires_grad()) n += param_entries_[i].numel;
  return n;
}

void ParamStore::zero_grad() {
  check_allocated("zero_grad");
  fill_zero(grad_storage_->ptr, device_, sizeof(float) * param_floats_);
  for (size_t i = 0; i < params_.size(); ++i) {
    // Someone may have dropped the view (clear_grad): re-attach the arena gradient.
    if (params_[i].impl()->grad.get() != grads_[i].impl()) params_[i].set_grad_view(grads_[i]);
    params_[i].mark_grad_zeroed();
  }
}

int ParamStore::set_frozen(const std::string& prefix, bool frozen) {
  check_allocated("set_frozen");
  int n = 0;
  for (size_t i = 0; i < params_.size(); ++i)
    if (param_entries_[i].name.compare(0, prefix.size(), prefix) == 0) {
      params_[i].set_requires_grad(!frozen);
      ++n;
    }
  if (n == 0)
    throw std::invalid_argument("ParamStore: prefix '" + prefix + "' matches no parameter");
  return n;
}

std::vector<std::pair<size_t, size_t>> ParamStore::trainable_spans() const {
  check_allocated("trainable_spans");
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].requires_grad()) continue;
    const size_t b = param_entries_[i].offset;
    const size_t e = i + 1 < params_.size() ? param_entries_[i + 1].offset : param_floats_;
    if (!spans.empty() && spans.back().second == b)
      spans.back().second = e;
    else
      spans.emplace_back(b, e);
  }
  return spans;
}

void ParamStore::to(Device d) {
  check_allocated("to");
  if (d == device_) return;
  param_storage_ = move_arena(param_storage_, d, param_floats_, params_);
  grad_storage_ = move_arena(grad_storage_, d, param_floats_, grads_);
  m_storage_ = move_arena(m_storage_, d, param_floats_, ms_);
  v_storage_ = move_arena(v_storage_, d, param_floats_, vs_);
  buffer_storage_ = move_arena(buffer_storage_, d, buffer_floats_, buffers_);
  device_ = d;
}

}  // namespace cs
