#pragma once
// The methods a stage can train with, one entry each: the pre-training losses of stages 1 and 2,
// the pretext tasks of the pretext stage and the fine-tuning losses of stage 3. The setting of a
// stage's key (global.loss, local.loss, pretext.task, finetune.loss) names its entry; make_stage_step builds that entry's step. A new method is one
// file with its step and one line in registry.cpp (docs/adding-a-method.md).
#include <memory>
#include <vector>

#include "experiments/methods/stage_step.h"

namespace cs {

using StepFactory = std::unique_ptr<StageStep> (*)(const Settings&, UNet&, const std::vector<SliceStack>&);

struct Method {
  const char* name;     // its value of the stage's key
  Stage stage;
  const char* summary;  // what it is, in a line
  const char* trains;   // the parameters its step trains: what it hands on to the next stage
  StepFactory make_step;
};

// Every method, stage by stage.
const std::vector<Method>& methods();
// The config key whose value names a stage's method.
const char* method_key(Stage stage);
// The entry the settings choose for `stage`; throws naming the key when none has that name.
const Method& selected_method(Stage stage, const Settings& settings);

}  // namespace cs
