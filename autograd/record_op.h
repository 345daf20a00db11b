#pragma once
// record_op: how a differentiable op runs its forward kernel and records its tape node, under one
// name, so that the profile and the tape always speak of the same op:
//
//   Tensor y = Tensor::empty(x.shape(), x.device());
//   return record_op({"square", 1.0 * x.numel(), 2.0 * x.numel()}, {x}, y,
//                    [&] { CS_DISPATCH(x.device(), square_forward, x, y); },
//                    [x](const Tensor& dy) { /* accumulate into grad_out(x) */ });
//
// The forward runs at once; the backward closure goes on the tape only when an input requires
// grad (Tape::should_record). Each pass, forward and backward, is one span for the observer.
//
// OpObserver is the profiler's one hook (experiments/profile/profiler.h implements it). It is
// null unless a profiler is installed, and hears each span's start and end with the op's name,
// FLOPs and tensors, from which it derives shapes and memory traffic.
#include <cstddef>
#include <initializer_list>
#include <utility>
#include <vector>

#include "autograd/tape.h"

namespace cs {

struct OpInfo {
  const char* name;             // the profile name; must outlive the backward pass
  double forward_flops = 0.0;   // 0: not counted
  double backward_flops = 0.0;
};

// One pass of one op, as the observer hears it.
struct OpEvent {
  const char* name;
  bool backward;
  double flops;
  const Tensor* inputs;  // the op's inputs, undefined ones included
  size_t num_inputs;
  const Tensor& output;  // forward: the output; backward: its gradient dy (the same shape)
};

struct OpObserver {
  virtual ~OpObserver() = default;
  virtual void begin(const OpEvent& e) = 0;
  virtual void end(const OpEvent& e) = 0;
};

// This thread's observer, or null (one per thread, like the tape).
OpObserver* op_observer();
void set_op_observer(OpObserver* o);

namespace detail {
class OpSpan {  // begin on construction, end on destruction, when an observer is installed
 public:
  explicit OpSpan(const OpEvent& e) : e_(e), obs_(op_observer()) {
    if (obs_) obs_->begin(e_);
  }
  ~OpSpan() {
    if (obs_) obs_->end(e_);
  }
  OpSpan(const OpSpan&) = delete;
  OpSpan& operator=(const OpSpan&) = delete;

 private:
  OpEvent e_;
  OpObserver* obs_;
};
}  // namespace detail

// Runs forward() inside the op's span, then records backward(dy) on the tape when an input
// requires grad; returns `output` (marked as requiring grad when recorded).
template <class Forward, class Backward>
Tensor record_op(const OpInfo& op, std::initializer_list<Tensor> inputs, Tensor output, Forward&& forward,
                 Backward&& backward) {
  {
    detail::OpSpan span({op.name, false, op.forward_flops, inputs.begin(), inputs.size(), output});
    forward();
  }
  Tape& tape = Tape::get();
  if (tape.should_record(inputs))
    tape.record(output, [op, in = std::vector<Tensor>(inputs), bw = std::forward<Backward>(backward)](const Tensor& dy) {
      detail::OpSpan span({op.name, true, op.backward_flops, in.data(), in.size(), dy});
      bw(dy);
    });
  return output;
}

}  // namespace cs
