// The registry of methods: one entry per value of each stage's key, and each builds its step.
#include <gtest/gtest.h>

#include <cmath>

#include <string>
#include <vector>

#include "experiments/methods/registry.h"
#include "support/step_test_util.h"

namespace cs {
namespace {

std::vector<std::string> names_of(Stage stage) {
  std::vector<std::string> names;
  for (const Method& m : methods())
    if (m.stage == stage) names.push_back(m.name);
  return names;
}

// A method without its config value, or a value without a method, would be a setting that cannot
// be chosen or a choice that fails only when a run starts.
TEST(Methods, EachStageKeyOffersExactlyTheRegisteredMethods) {
  for (Stage stage : all_stages())
    EXPECT_EQ(names_of(stage), config_choices(method_key(stage))) << stage_name(stage);
}

TEST(Methods, EverySettingChoosesItsOwnEntryAndBuildsItsStep) {
  for (const Method& m : methods()) {
    const Settings s = testing_step::small_settings({{method_key(m.stage), m.name}});
    const Method& chosen = selected_method(m.stage, s);
    EXPECT_EQ(std::string(chosen.name), m.name);
    auto model = make_model(s, m.stage, Device::CPU);
    const auto stacks = random_stacks(6, 8, 64, model->config().num_classes, 1);
    const auto step = make_stage_step(m.stage, s, *model, stacks);
    EXPECT_EQ(step->stage(), m.stage) << m.name;
    EXPECT_TRUE(std::isfinite(step->run(0))) << m.name;
  }
}

}  // namespace
}  // namespace cs
