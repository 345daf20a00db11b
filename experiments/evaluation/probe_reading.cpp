#include "experiments/evaluation/probe_reading.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/atomic_file.h"

namespace cs {

bool at_baseline(const ProbeReading& r) {
  if (!r.accuracy) return !(r.value < r.baseline);
  const double p = r.baseline, noise = 2 * std::sqrt(p * (1 - p) / std::max(r.trials, 1));
  return !(r.value > p + noise);
}

bool informative(const ProbeReading& r) { return !r.accuracy || r.baseline < 1; }

bool learned_nothing(const std::vector<ProbeReading>& readings) {
  bool any = false;
  for (const auto& r : readings) {
    if (!informative(r)) continue;
    if (!at_baseline(r)) return false;
    any = true;
  }
  return any;
}

std::string describe(const std::vector<ProbeReading>& readings) {
  std::string text;
  for (const auto& r : readings) text += (text.empty() ? "" : "; ") + describe(r);
  return text;
}

std::string describe(const ProbeReading& r) {
  return r.accuracy ? fmt::format("{} {:.3f} (chance {:.3f})", r.name, r.value, r.baseline)
                    : fmt::format("{} {:.4g} (corrupted input {:.4g})", r.name, r.value, r.baseline);
}

void write_probe_record(const std::string& path, const ProbeRecord& record) {
  nlohmann::json j;
  j["readings"] = nlohmann::json::array();
  for (const auto& r : record.readings)
    j["readings"].push_back({{"name", r.name}, {"value", r.value}, {"baseline", r.baseline},
                             {"accuracy", r.accuracy}, {"trials", r.trials}, {"step", r.step}});
  j["nothing_learned"] = record.nothing_learned;
  write_file_atomic(path, j.dump(2) + "\n");
}

ProbeRecord read_probe_record(const std::string& path) {
  std::ifstream f(path);
  try {
    const auto j = nlohmann::json::parse(f);
    ProbeRecord record;
    for (const auto& r : j.at("readings"))
      record.readings.push_back({r.at("name").get<std::string>(), r.at("value").get<double>(),
                                 r.at("baseline").get<double>(), r.at("accuracy").get<bool>(),
                                 r.at("trials").get<int>(), r.at("step").get<int>()});
    record.nothing_learned = j.at("nothing_learned").get<std::string>();
    return record;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: not a probe record ({}); delete it and run the stage again", path,
                                         e.what()));
  }
}

}  // namespace cs
