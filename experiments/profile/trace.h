#pragma once
// A profile as a Chrome trace-event file (the JSON object format: {"traceEvents": [...]}), which
// Perfetto (ui.perfetto.dev) and chrome://tracing open. Every span is one complete event
// ("ph": "X", ts and dur in microseconds) on one thread, so a step contains its phases and each
// phase its ops; an op's FLOPs, achieved GFLOP/s and shapes are its args.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cs {

struct TraceSpan {
  std::string name;      // the op ("conv2d"), the phase ("forward") or "step N"
  std::string category;  // "forward" | "backward" | "phase" | "step"
  double start_us = 0;   // since the profiler started
  double duration_us = 0;
  double flops = 0;      // 0: not counted
  std::string shapes;    // e.g. "[20,192,192,1] [16,3,3,1] -> [20,192,192,16]"; "" if unknown
};

class Trace {
 public:
  void add(TraceSpan span) { spans_.push_back(std::move(span)); }
  const std::vector<TraceSpan>& spans() const { return spans_; }

  // `process` and `thread` name the rows the viewer shows (e.g. "contraseg profile finetune", "cpu").
  nlohmann::json to_json(const std::string& process, const std::string& thread) const;
  void save(const std::string& path, const std::string& process, const std::string& thread) const;  // atomic

 private:
  std::vector<TraceSpan> spans_;
};

}  // namespace cs
