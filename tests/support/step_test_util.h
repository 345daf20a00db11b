#pragma once
// Helpers shared by the tests that build and run stage steps (experiments/methods/stage_step.h):
// small settings to build them from, and hearing the ops they run.
#include <string>
#include <utility>
#include <vector>

#include "autograd/record_op.h"
#include "experiments/config.h"
#include "experiments/settings.h"

namespace cs::testing_step {

using ConfigKeys = std::vector<std::pair<std::string, std::string>>;

// Small settings: 64x64 inputs and small batches (3 volumes for stage 1), then `keys` over them.
inline Settings small_settings(const ConfigKeys& keys = {}) {
  Config c;
  c.set("image_size", "64");
  c.set("global.volumes", "3");
  c.set("global.batch", "4");
  c.set("local.batch", "3");
  c.set("finetune.batch", "4");
  for (const auto& [k, v] : keys) c.set(k, v);
  c.validate();
  return resolve_settings(c);
}

// Installs an op observer for its lifetime.
struct ObserverScope {
  explicit ObserverScope(OpObserver* o) { set_op_observer(o); }
  ~ObserverScope() { set_op_observer(nullptr); }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;
};

}  // namespace cs::testing_step
