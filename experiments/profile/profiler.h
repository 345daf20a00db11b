#pragma once
// Per-op profiler for `contraseg profile`. Installed as the tape's OpObserver, it times every
// forward op and every backward closure by name. On the GPU it synchronises the stream around
// each op (so each op's time is its own, at the price of losing overlap) and opens an NVTX range
// with the op's name, so Nsight Systems shows the same names.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "autograd/tape.h"

namespace cs {

struct OpStats {
  int64_t calls = 0;
  double forward_ms = 0, backward_ms = 0;
  double forward_flops = 0, backward_flops = 0;
};

class Profiler : public OpObserver {
 public:
  explicit Profiler(Device device);
  ~Profiler() override;
  void begin(const char* name, bool backward) override;
  void end(const char* name, bool backward, double flops) override;

  // Phases (data, forward, backward, optimizer) are timed by the caller with these.
  void phase_begin(const std::string& phase);
  void phase_end(const std::string& phase);

  void reset();
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
};

}  // namespace cs
