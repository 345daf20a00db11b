// `contraseg methods`: the methods each stage can train with (experiments/methods/registry.h), the
// key and value that choose each, and what its step trains.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "experiments/cli/cli.h"
#include "experiments/methods/registry.h"

namespace cs {
namespace {

CommandSpec methods_spec() {
  return {"methods", "the methods each stage can train with, and the setting that chooses each",
          "contraseg methods",
          "Every pre-training and fine-tuning method, stage by stage: the key=value that chooses it,\n"
          "what its step trains, and what it is.\n",
          {}};
}

int cmd_methods(const Args&) {
  // The columns as wide as their longest entry.
  int setting = 0, trains = 0;
  for (const Method& m : methods()) {
    setting = std::max(setting, static_cast<int>(std::string(method_key(m.stage)).size() + 1 + std::strlen(m.name)));
    trains = std::max(trains, static_cast<int>(std::strlen(m.trains)));
  }
  for (Stage stage : all_stages()) {
    std::printf("%s:\n", stage_name(stage));
    for (const Method& m : methods())
      if (m.stage == stage)
        std::printf("  %-*s trains %-*s %s\n", setting, (std::string(method_key(stage)) + "=" + m.name).c_str(), trains,
                    m.trains, m.summary);
  }
  return 0;
}

}  // namespace
CS_COMMAND(methods_spec(), cmd_methods);
}  // namespace cs
