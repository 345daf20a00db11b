#pragma once
// Per-op profiler for `contraseg profile`. Installed as this thread's OpObserver (the one hook of
// autograd/record_op.h), it times every op's forward and backward pass by name, and the phases of a step (as StepPhases). On
// the GPU it synchronises the stream around each op (so each op's time is its own, at the price
// of losing overlap) and opens an NVTX range with the op's name, so Nsight Systems shows the
// same names. With tracing on it also keeps every span for a Chrome trace-event file
// (profile/trace.h), which Perfetto and chrome://tracing open.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "autograd/record_op.h"
#include "experiments/methods/stage_step.h"
#include "experiments/profile/trace.h"

namespace cs {

struct OpStats {
  int64_t calls = 0;
  double forward_ms = 0, backward_ms = 0;
  double forward_flops = 0, backward_flops = 0;
  double forward_bytes = 0, backward_bytes = 0;  // op_traffic_bytes
};

// The bytes an op must move at the least, each tensor once: forward, its inputs and its output;
// backward, dy, the saved inputs and the gradient of each input that takes one. Ops that make
// several passes (batch norm's statistics) move more; an op near this bound is memory-bound.
double op_traffic_bytes(const OpEvent& e);
// "[a, b] [c] -> [d, e]": the shapes of an op's inputs (undefined ones skipped) and its output.
std::string op_shapes(const OpEvent& e);

class Profiler : public OpObserver, public StepPhases {
 public:
  explicit Profiler(Device device);
  ~Profiler() override;
  void begin(const OpEvent& e) override;
  void end(const OpEvent& e) override;  // time, FLOPs, traffic; the shapes too when tracing

  // The phases of a step (data, forward, backward, optimizer), from StageStep::run.
  void phase_begin(const std::string& phase) override;
  void phase_end(const std::string& phase) override;
  // A span around one whole step (trace only).
  void step_begin(int step);
  void step_end();

  // Keep every span from now on for trace().
  void enable_trace() { tracing_ = true; }
  const Trace& trace() const { return trace_; }

  void reset();  // the table's sums (the trace keeps its spans)
  // The table: per op calls, forward ms, backward ms, share of the step, GFLOP/s; then phases.
  std::string report(int steps) const;

 private:
  using Clock = std::chrono::steady_clock;
  void sync() const;
  Device device_;
  std::map<std::string, OpStats> ops_;
  std::map<std::string, double> phase_ms_;
  std::vector<std::string> phase_order_;
  std::map<std::string, Clock::time_point> phase_start_;
  std::vector<Clock::time_point> stack_;
  bool tracing_ = false;
  Trace trace_;
  Clock::time_point origin_ = Clock::now();
  Clock::time_point step_start_;
  int step_ = 0;
  double since_origin_us(Clock::time_point t) const;
};

}  // namespace cs
