#include "autograd/tape.h"

#include <stdexcept>

#include "autograd/allocator.h"

namespace cs {

Tape& Tape::get() {
  thread_local Tape tape;
  return tape;
}

bool Tape::should_record(std::initializer_list<Tensor> inputs) const {
  if (!enabled_) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void Tape::record(Tensor& output, BackwardFn backward) {
  output.set_requires_grad(true);
  nodes_.push_back(Node{output, std::move(backward)});
}

void Tape::backward(Tensor& loss) {
  if (loss.numel() != 1)
    throw std::invalid_argument("backward: loss must be a scalar, got shape " + shape_str(loss.shape()));
  if (!loss.requires_grad()) throw std::invalid_argument("backward: loss does not depend on any parameter");
  // The seed, 1, written over whatever the loss's gradient buffer held (so beta is not needed).
  float beta = 0.0f;
  const float one = 1.0f;
  copy_bytes(loss.grad_for_write(&beta), loss.device(), &one, Device::CPU, sizeof one);
  const bool was_enabled = enabled_;
  enabled_ = false;  // backward closures never record
  try {
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it)
      if (it->output.has_grad()) it->backward(it->output.grad());  // else a branch the loss does not use
  } catch (...) {
    enabled_ = was_enabled;
    nodes_.clear();
    throw;
  }
  enabled_ = was_enabled;
  nodes_.clear();
}

}  // namespace cs
