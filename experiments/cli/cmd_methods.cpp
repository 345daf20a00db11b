// `contraseg methods`: the methods each stage can train with (experiments/methods/registry.h), the
// key and value that choose each, and what its step trains.
#include <cstdio>
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
  for (Stage stage : {Stage::Global, Stage::Local, Stage::Finetune}) {
    std::printf("%s:\n", stage_name(stage));
    for (const Method& m : methods())
      if (m.stage == stage)
        std::printf("  %-22s trains %-26s %s\n", (std::string(method_key(stage)) + "=" + m.name).c_str(), m.trains,
                    m.summary);
  }
  return 0;
}

}  // namespace
CS_COMMAND(methods_spec(), cmd_methods);
}  // namespace cs
