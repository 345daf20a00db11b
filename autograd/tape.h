#pragma once
// The tape: a minimal reverse-mode autograd.
//  1. Each differentiable op that sees an input requiring grad appends a Node: its name, its
//     inputs and output, and a backward closure holding whatever state the op saved.
//  2. backward(loss) seeds d(loss)/d(loss) = 1 and runs the closures in reverse order; each
//     closure is called with its output's gradient dy and accumulates into its inputs'
//     gradients (grad_out, autograd/grad_out.h).
//  3. The tape is cleared afterwards, releasing the saved state.
// NoGradGuard turns recording off (evaluation, frozen parts of the network).
#include <functional>
#include <string>
#include <vector>

#include "autograd/grad_out.h"
#include "autograd/tensor.h"

namespace cs {

struct Node {
  std::string name;
  std::vector<Tensor> inputs;
  Tensor output;
  std::function<void(const Tensor& dy)> backward;  // dy: the output's gradient
  double backward_flops = 0.0;  // for the profiler
};

// Hooks for the profiler: called around every forward op and backward closure.
struct OpObserver {
  virtual ~OpObserver() = default;
  virtual void begin(const char* name, bool backward) = 0;
  virtual void end(const char* name, bool backward, double flops) = 0;
  // When wants_shapes(): the tensor shapes of each recorded op, "[2,8,8,1] [4,3,3,1] -> [2,8,8,4]",
  // right after its forward span (when it is recorded) and after its backward span.
  virtual bool wants_shapes() const { return false; }
  virtual void shapes(const char* /*name*/, bool /*backward*/, const std::string& /*shapes*/) {}
  // The least memory traffic of each recorded op, in bytes, right after its forward span (when it
  // is recorded) and after its backward span: see op_traffic_bytes.
  virtual void traffic(const char* /*name*/, bool /*backward*/, double /*bytes*/) {}
};

// The bytes an op must move at the least, each tensor once: forward, its inputs and its output;
// backward, dy, the saved inputs and the gradient of each input that takes one. Ops that make
// several passes (batch norm's statistics) move more; an op near this bound is memory-bound.
double op_traffic_bytes(const std::vector<Tensor>& inputs, const Tensor& output, bool backward);

// "[a,b] [c] -> [d,e]": the shapes of an op's inputs (undefined ones skipped) and its output.
std::string op_shapes(const std::vector<Tensor>& inputs, const Tensor& output);

class Tape {
 public:
  static Tape& get();  // one tape per thread

  bool enabled() const { return enabled_; }
  void set_enabled(bool e) { enabled_ = e; }
  size_t size() const { return nodes_.size(); }
  const std::vector<Node>& nodes() const { return nodes_; }

  // True if an op on these inputs must be recorded.
  bool should_record(std::initializer_list<const Tensor*> inputs) const;
  // Records a node; marks `output` as requiring grad.
  void record(const char* name, std::vector<Tensor> inputs, Tensor& output,
              std::function<void(const Tensor& dy)> backward, double backward_flops = 0.0);

  void backward(Tensor& loss);  // loss must hold exactly one element
  void clear() { nodes_.clear(); }

  void set_observer(OpObserver* o) { observer_ = o; }
  OpObserver* observer() const { return observer_; }

 private:
  std::vector<Node> nodes_;
  bool enabled_ = true;
  OpObserver* observer_ = nullptr;
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

// RAII span reported to the observer (forward ops use it; the tape wraps backward closures).
class OpScope {
 public:
  OpScope(const char* name, double flops = 0.0, bool backward = false);
  ~OpScope();

 private:
  const char* name_;
  double flops_;
  bool backward_;
  OpObserver* obs_;
};

}  // namespace cs
