#pragma once
// Tasks with dependencies on a fixed set of slots (reproduce --gpus: one run per GPU at a time):
// each task starts as a child process once every task it needs has succeeded, on a free slot.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace cs {

struct GraphTask {
  std::string id;
  std::vector<std::string> after;  // ids of tasks in the same list that must succeed first
};

struct GraphOutcome {
  std::vector<std::string> failed;   // ended with a non-zero status
  std::vector<std::string> skipped;  // never started: a task they need failed or was skipped
};

// start(i, slot) starts task i as a child process on `slot` and returns its pid; ended(i, slot,
// status) is called when it exits (status as waitpid gives it). Tasks start in list order when
// several are ready. Returns when no task is running and none can start.
GraphOutcome run_task_graph(const std::vector<GraphTask>& tasks, const std::vector<std::string>& slots,
                            const std::function<pid_t(size_t, const std::string&)>& start,
                            const std::function<void(size_t, const std::string&, int)>& ended);

}  // namespace cs
