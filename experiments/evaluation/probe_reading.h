#pragma once
// What a pre-training's held-out probe read (docs/method.md §9), and whether that says the
// pre-training learned nothing: an accuracy no further from chance than noise allows, or a
// reconstruction no closer to the original than the corrupted input it was given. A table marks
// such a row instead of presenting its Dice like the others'.
#include <string>
#include <vector>

namespace cs {

struct ProbeReading {
  std::string name;  // "k-NN partition accuracy", "reconstruction error"
  double value = 0;
  double baseline = 0;  // what learning nothing reads: chance, or the corrupted input's error
  bool accuracy = true;  // higher is better; otherwise an error, lower is better
  int trials = 0;        // predictions an accuracy averages (how far from chance noise reaches)
  int step = 0;
};

// An accuracy below chance + 2 binomial standard deviations of `trials` predictions, or an error
// not below its baseline.
bool at_baseline(const ProbeReading& r);
// Whether a reading can tell learning from none: not an accuracy whose chance is 1 (a retrieval
// among one candidate).
bool informative(const ProbeReading& r);
// Some reading can tell, and every one that can is at its baseline.
bool learned_nothing(const std::vector<ProbeReading>& readings);
// The readings, "; "-separated.
std::string describe(const std::vector<ProbeReading>& readings);

// "k-NN partition accuracy 0.812 (chance 0.250)", "reconstruction error 0.0123 (corrupted 0.0456)".
std::string describe(const ProbeReading& r);

// probe.json of a pre-training run folder: its last readings and, when they say it learned
// nothing, the likely reason. Written atomically.
struct ProbeRecord {
  std::vector<ProbeReading> readings;
  std::string nothing_learned;  // "" unless learned_nothing(readings); then why, likely
};
void write_probe_record(const std::string& path, const ProbeRecord& record);
// Throws std::runtime_error naming the file when it is not a probe record.
ProbeRecord read_probe_record(const std::string& path);

}  // namespace cs
