#include "experiments/pipeline/task_graph.h"

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <stdexcept>

namespace cs {

GraphOutcome run_task_graph(const std::vector<GraphTask>& tasks, const std::vector<std::string>& slots,
                            const std::function<pid_t(size_t, const std::string&)>& start,
                            const std::function<void(size_t, const std::string&, int)>& ended) {
  if (slots.empty()) throw std::invalid_argument("run_task_graph: no slots");
  enum class State { Waiting, Running, Succeeded, Failed, Skipped };
  std::vector<State> state(tasks.size(), State::Waiting);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < tasks.size(); ++i) index[tasks[i].id] = i;
  std::vector<std::string> free_slots(slots.rbegin(), slots.rend());  // the first slot first
  std::map<pid_t, std::pair<size_t, std::string>> running;
  GraphOutcome outcome;
  for (;;) {
    // Skip what can no longer run; start what is ready, in list order, while slots are free.
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < tasks.size(); ++i) {
        if (state[i] != State::Waiting) continue;
        bool ready = true, doomed = false;
        for (const auto& a : tasks[i].after) {
          const auto it = index.find(a);
          if (it == index.end()) throw std::invalid_argument("run_task_graph: " + tasks[i].id + " needs unknown " + a);
          const State s = state[it->second];
          doomed = doomed || s == State::Failed || s == State::Skipped;
          ready = ready && s == State::Succeeded;
        }
        if (doomed) {
          state[i] = State::Skipped;
          outcome.skipped.push_back(tasks[i].id);
          changed = true;
        } else if (ready && !free_slots.empty()) {
          const std::string slot = free_slots.back();
          free_slots.pop_back();
          running[start(i, slot)] = {i, slot};
          state[i] = State::Running;
        }
      }
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("run_task_graph: waitpid failed");
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;  // a child that is not one of ours
    const auto [i, slot] = it->second;
    running.erase(it);
    free_slots.push_back(slot);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    state[i] = ok ? State::Succeeded : State::Failed;
    if (!ok) outcome.failed.push_back(tasks[i].id);
    ended(i, slot, status);
  }
  for (size_t i = 0; i < tasks.size(); ++i)  // none left in a list whose order satisfies `after`
    if (state[i] == State::Waiting) outcome.skipped.push_back(tasks[i].id);
  return outcome;
}

}  // namespace cs
