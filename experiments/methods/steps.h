#pragma once
// The step factories of the methods (one file each), for the registry (registry.cpp).
#include <memory>
#include <vector>

#include "experiments/methods/stage_step.h"

namespace cs {

// Each builds the step of its method for `model` over `stacks` (which must outlive it).
std::unique_ptr<StageStep> make_global_contrastive_step(const Settings& settings, UNet& model,
                                                        const std::vector<SliceStack>& stacks);
std::unique_ptr<StageStep> make_local_contrastive_step(const Settings& settings, UNet& model,
                                                       const std::vector<SliceStack>& stacks);
std::unique_ptr<StageStep> make_rotation_step(const Settings& settings, UNet& model,
                                              const std::vector<SliceStack>& stacks);
std::unique_ptr<StageStep> make_context_restoration_step(const Settings& settings, UNet& model,
                                                         const std::vector<SliceStack>& stacks);
std::unique_ptr<StageStep> make_inpainting_step(const Settings& settings, UNet& model,
                                                const std::vector<SliceStack>& stacks);
std::unique_ptr<StageStep> make_segmentation_step(const Settings& settings, UNet& model,
                                                  const std::vector<SliceStack>& stacks);

}  // namespace cs
