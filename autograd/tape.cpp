#include "autograd/tape.h"

#include <stdexcept>

namespace cs {

Tape& Tape::get() {
  thread_local Tape tape;
  return tape;
}

bool Tape::should_record(std::initializer_list<const Tensor*> inputs) const {
  if (!enabled_) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void Tape::record(const char* name, std::vector<Tensor> inputs, Tensor& output,
                  std::function<void(const Tensor& dy)> backward, double backward_flops) {
  output.set_requires_grad(true);
  nodes_.push_back(Node{name, std::move(inputs), output, std::move(backward), backward_flops});
  if (observer_) {
    if (observer_->wants_shapes()) observer_->shapes(name, false, op_shapes(nodes_.back().inputs, output));
    observer_->traffic(name, false, op_traffic_bytes(nodes_.back().inputs, output, false));
  }
}

double op_traffic_bytes(const std::vector<Tensor>& inputs, const Tensor& output, bool backward) {
  double bytes = static_cast<double>(output.nbytes());  // the output, or dy
  for (const Tensor& t : inputs)
    if (t.defined()) bytes += static_cast<double>(t.nbytes()) * (backward && t.requires_grad() ? 2 : 1);
  return bytes;
}

std::string op_shapes(const std::vector<Tensor>& inputs, const Tensor& output) {
  std::string s;
  for (const Tensor& t : inputs)
    if (t.defined()) s += (s.empty() ? "" : " ") + shape_str(t.shape());
  return s + " -> " + shape_str(output.shape());
}

void Tape::backward(Tensor& loss) {
  if (loss.numel() != 1)
    throw std::invalid_argument("backward: loss must be a scalar, got shape " + shape_str(loss.shape()));
  if (!loss.requires_grad()) throw std::invalid_argument("backward: loss does not depend on any parameter");
  float beta = 0.f;
  float* g = loss.grad_for_write(&beta);
  Tensor(loss.impl()->grad).fill_(1.0f);
  (void)g;
  const bool was_enabled = enabled_;
  enabled_ = false;  // backward closures never record
  try {
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
      // Skip nodes whose output received no gradient (a branch the loss does not use).
      if (!it->output.has_grad()) continue;
      {
        OpScope scope(it->name.c_str(), it->backward_flops, true);
        it->backward(it->output.grad());
      }
      if (observer_) {
        if (observer_->wants_shapes()) observer_->shapes(it->name.c_str(), true, op_shapes(it->inputs, it->output));
        observer_->traffic(it->name.c_str(), true, op_traffic_bytes(it->inputs, it->output, true));
      }
    }
  } catch (...) {
    enabled_ = was_enabled;
    nodes_.clear();
    throw;
  }
  enabled_ = was_enabled;
  nodes_.clear();
}

OpScope::OpScope(const char* name, double flops, bool backward)
    : name_(name), flops_(flops), backward_(backward), obs_(Tape::get().observer()) {
  if (obs_) obs_->begin(name_, backward_);
}
OpScope::~OpScope() {
  if (obs_) obs_->end(name_, backward_, flops_);
}

}  // namespace cs
