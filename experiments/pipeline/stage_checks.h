#pragma once
// The checks between the settings and the data that no single key or case can make, run by each
// stage after its data is loaded and before its run folder is created: enough volumes in the
// pool for a batch's distinct volumes, enough slices in each for its partitions, a batch whose
// activations fit in memory, and one batch drawn for real.
#include <string>
#include <vector>

#include "experiments/settings.h"
#include "experiments/pipeline/data.h"
#include "experiments/methods/stage_step.h"

namespace cs {

// The pre-training pool against the batch the step draws from it; `pool_name` names the list.
void check_pool_fits_batch(const StageStep& step, const Settings& settings, const std::vector<PreparedCase>& pool,
                           const std::string& pool_name);

// The activations of one step of `step` against this machine's memory: refuses a batch whose
// forward activations alone would not fit, with the estimate and the largest batch that would.
void check_step_memory(StageStep& step);

// Everything above, then one batch drawn (step 0's, drawn again in training) so that any other
// mismatch of data and sampler shows here, before the folder exists.
void check_stage_inputs(StageStep& step, const Settings& settings, const std::vector<PreparedCase>& train,
                        const std::string& train_name);

}  // namespace cs
