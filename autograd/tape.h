#pragma once
// The tape: a minimal reverse-mode autograd.
//  1. Each differentiable op that sees an input requiring grad appends a node: its output and a
//     backward closure holding whatever state the op saved (ops do so through record_op,
//     autograd/record_op.h, which also shows the op to the profiler).
//  2. backward(loss) seeds d(loss)/d(loss) = 1 and runs the closures in reverse order; each
//     closure is called with its output's gradient dy and accumulates into its inputs'
//     gradients (grad_out, autograd/grad_out.h).
//  3. The tape is cleared afterwards, releasing the saved state.
// NoGradGuard turns recording off (evaluation, frozen parts of the network).
#include <functional>
#include <initializer_list>
#include <vector>

#include "autograd/grad_out.h"
#include "autograd/tensor.h"

namespace cs {

using BackwardFn = std::function<void(const Tensor& dy)>;  // dy: the output's gradient

class Tape {
 public:
  static Tape& get();  // one tape per thread

  bool enabled() const { return enabled_; }
  void set_enabled(bool e) { enabled_ = e; }
  size_t size() const { return nodes_.size(); }

  // True if an op on these inputs must be recorded: recording is on and one of them (undefined
  // ones skipped) requires grad.
  bool should_record(std::initializer_list<Tensor> inputs) const;
  // Appends a node; marks `output` as requiring grad.
  void record(Tensor& output, BackwardFn backward);

  void backward(Tensor& loss);  // loss must hold exactly one element
  void clear() { nodes_.clear(); }

 private:
  struct Node {
    Tensor output;
    BackwardFn backward;
  };
  std::vector<Node> nodes_;
  bool enabled_ = true;
};

inline void backward(Tensor& loss) { Tape::get().backward(loss); }

class NoGradGuard {
 public:
  NoGradGuard() : prev_(Tape::get().enabled()) { Tape::get().set_enabled(false); }
  ~NoGradGuard() { Tape::get().set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace cs
