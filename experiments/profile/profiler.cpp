#include "experiments/profile/profiler.h"

#include <algorithm>

#include <fmt/format.h>

#include "autograd/cuda_runtime_api.h"
#ifdef CONTRASEG_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace cs {

Profiler::Profiler(Device device) : device_(device) { set_op_observer(this); }
Profiler::~Profiler() {
  if (op_observer() == this) set_op_observer(nullptr);
}

double op_traffic_bytes(const OpEvent& e) {
  double bytes = static_cast<double>(e.output.nbytes());  // the output, or dy
  for (size_t i = 0; i < e.num_inputs; ++i) {
    const Tensor& t = e.inputs[i];
    if (t.defined()) bytes += static_cast<double>(t.nbytes()) * (e.backward && t.requires_grad() ? 2 : 1);
  }
  return bytes;
}

std::string op_shapes(const OpEvent& e) {
  std::string s;
  for (size_t i = 0; i < e.num_inputs; ++i)
    if (e.inputs[i].defined()) s += (s.empty() ? "" : " ") + shape_str(e.inputs[i].shape());
  return s + " -> " + shape_str(e.output.shape());
}

void Profiler::sync() const { device_synchronize(device_); }

void Profiler::begin(const OpEvent& e) {
  sync();
#ifdef CONTRASEG_CUDA
  if (device_ == Device::CUDA) nvtxRangePushA(e.backward ? (std::string(e.name) + ".backward").c_str() : e.name);
#else
  (void)e;
#endif
  stack_.push_back(Clock::now());
}

void Profiler::end(const OpEvent& e) {
  sync();
#ifdef CONTRASEG_CUDA
  if (device_ == Device::CUDA) nvtxRangePop();
#endif
  const Clock::time_point start = stack_.back(), now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - start).count();
  stack_.pop_back();
  if (tracing_)
    trace_.add({e.name, e.backward ? "backward" : "forward", since_origin_us(start), 1e3 * ms, e.flops, op_shapes(e)});
  OpStats& s = ops_[e.name];
  if (e.backward) {
    s.backward_ms += ms;
    s.backward_flops += e.flops;
    s.backward_bytes += op_traffic_bytes(e);
  } else {
    s.calls++;
    s.forward_ms += ms;
    s.forward_flops += e.flops;
    s.forward_bytes += op_traffic_bytes(e);
  }
}

void Profiler::phase_begin(const std::string& phase) {
  sync();
  if (!phase_ms_.count(phase)) phase_order_.push_back(phase);
  phase_ms_[phase] += 0;
  phase_start_[phase] = Clock::now();
}

void Profiler::phase_end(const std::string& phase) {
  sync();
  const Clock::time_point start = phase_start_[phase];
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  phase_ms_[phase] += ms;
  if (tracing_) trace_.add({phase, "phase", since_origin_us(start), 1e3 * ms, 0, ""});
}

void Profiler::step_begin(int step) {
  sync();
  step_ = step;
  step_start_ = Clock::now();
}

void Profiler::step_end() {
  sync();
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - step_start_).count();
  if (tracing_) trace_.add({fmt::format("step {}", step_), "step", since_origin_us(step_start_), us, 0, ""});
}

double Profiler::since_origin_us(Clock::time_point t) const {
  return std::chrono::duration<double, std::micro>(t - origin_).count();
}

void Profiler::reset() {
  ops_.clear();
  phase_ms_.clear();
  phase_order_.clear();
}

std::string Profiler::report(int steps) const {
  double step_ms = 0;
  for (const auto& [_, ms] : phase_ms_) step_ms += ms;
  if (step_ms <= 0)
    for (const auto& [_, s] : ops_) step_ms += s.forward_ms + s.backward_ms;
  std::vector<std::pair<std::string, OpStats>> rows(ops_.begin(), ops_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.forward_ms + a.second.backward_ms > b.second.forward_ms + b.second.backward_ms;
  });
  const double n = std::max(steps, 1);
  // GF/s: counted FLOPs; GB/s: the least traffic (op_traffic_bytes), both over the op's time.
  std::string out = fmt::format("{:<24} {:>8} {:>11} {:>11} {:>7} {:>10} {:>10} {:>10} {:>10}\n", "op",
                                "calls/st", "fwd ms/st", "bwd ms/st", "share", "fwd GF/s", "bwd GF/s", "fwd GB/s",
                                "bwd GB/s");
  for (const auto& [name, s] : rows) {
    auto rate = [](double amount, double ms) {  // amount per ms / 1e6 = G per s
      return ms > 0 && amount > 0 ? fmt::format("{:.1f}", amount / ms / 1e6) : std::string("-");
    };
    out += fmt::format("{:<24} {:>8.0f} {:>11.2f} {:>11.2f} {:>6.1f}% {:>10} {:>10} {:>10} {:>10}\n", name,
                       s.calls / n, s.forward_ms / n, s.backward_ms / n,
                       100.0 * (s.forward_ms + s.backward_ms) / std::max(step_ms, 1e-9),
                       rate(s.forward_flops, s.forward_ms), rate(s.backward_flops, s.backward_ms),
                       rate(s.forward_bytes, s.forward_ms), rate(s.backward_bytes, s.backward_ms));
  }
  if (!phase_order_.empty()) {
    out += "\nphase            ms/step   share\n";
    for (const auto& p : phase_order_) {
      const double ms = phase_ms_.at(p);
      out += fmt::format("{:<16} {:>7.1f} {:>6.1f}%\n", p, ms / n, 100.0 * ms / std::max(step_ms, 1e-9));
    }
    out += fmt::format("{:<16} {:>7.1f}\n", "step", step_ms / n);
  }
  return out;
}

}  // namespace cs
