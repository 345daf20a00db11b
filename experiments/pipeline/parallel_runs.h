#pragma once
// Independent runs side by side (reproduce.workers): the fine-tuning runs of a results table
// share nothing but their read-only inputs, and at the demo's scale one run on one core trains
// faster than one run on many (docs/performance.md §4), so each worker thread takes the next
// run until none is left.
#include <cstddef>
#include <functional>
#include <string>

namespace cs {

// Calls run(i) for every i in [0, n), on `workers` threads (on the calling thread when
// workers <= 1, in order). title(i) names run i for the terminal: alone, it is printed before the
// run and the run's lines follow as they come; side by side, each run's lines are collected
// (ConsoleCapture) and printed under its title as one block when it ends. After an exception no
// new run starts; the first one is rethrown when the running ones have ended.
void run_side_by_side(size_t n, int workers, const std::function<void(size_t)>& run,
                      const std::function<std::string(size_t)>& title);

}  // namespace cs
