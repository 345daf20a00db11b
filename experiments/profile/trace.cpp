#include "experiments/profile/trace.h"

#include "autograd/atomic_file.h"

namespace cs {

nlohmann::json Trace::to_json(const std::string& process, const std::string& thread) const {
  constexpr int kPid = 1, kTid = 1;
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", kPid}, {"tid", kTid}, {"args", {{"name", process}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", kPid}, {"tid", kTid}, {"args", {{"name", thread}}}});
  for (const TraceSpan& s : spans_) {
    nlohmann::json args = nlohmann::json::object();
    if (s.flops > 0) {
      args["flops"] = s.flops;
      if (s.duration_us > 0) args["GFLOP/s"] = s.flops / s.duration_us / 1e3;
    }
    if (!s.shapes.empty()) args["shapes"] = s.shapes;
    events.push_back({{"name", s.name},
                      {"cat", s.category},
                      {"ph", "X"},
                      {"ts", s.start_us},
                      {"dur", s.duration_us},
                      {"pid", kPid},
                      {"tid", kTid},
                      {"args", args}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

void Trace::save(const std::string& path, const std::string& process, const std::string& thread) const {
  write_file_atomic(path, to_json(process, thread).dump() + "\n");
}

}  // namespace cs
