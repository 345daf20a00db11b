// run_task_graph (reproduce --gpus): child processes on a fixed set of slots, each task after the
// ones it needs, never two on one slot, and a failure stops only what depends on it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "experiments/pipeline/task_graph.h"

namespace {

// A child that exits with `status` at once.
pid_t child(int status) {
  const pid_t pid = fork();
  if (pid == 0) _exit(status);
  return pid;
}

TEST(TaskGraph, EachTaskRunsAfterWhatItNeedsOnAFreeSlot) {
  // pretrain:a; pretrain:b after a; four fine-tuning runs, two after a, two after b.
  const std::vector<cs::GraphTask> tasks = {{"a", {}}, {"b", {"a"}}, {"f0", {"a"}}, {"f1", {"a", "b"}},
                                            {"f2", {"a"}}, {"f3", {"a", "b"}}};
  std::vector<std::string> order;
  std::map<std::string, std::string> busy;  // slot -> task running there
  size_t most_at_once = 0;
  std::map<std::string, bool> ended;
  const auto outcome = cs::run_task_graph(
      tasks, {"0", "1"},
      [&](size_t i, const std::string& slot) {
        EXPECT_EQ(busy.count(slot), 0u) << tasks[i].id << " on busy slot " << slot;
        for (const auto& need : tasks[i].after) EXPECT_TRUE(ended[need]) << tasks[i].id << " before " << need;
        busy[slot] = tasks[i].id;
        most_at_once = std::max(most_at_once, busy.size());
        order.push_back(tasks[i].id);
        return child(0);
      },
      [&](size_t i, const std::string& slot, int) {
        EXPECT_EQ(busy[slot], tasks[i].id);
        busy.erase(slot);
        ended[tasks[i].id] = true;
      });
  EXPECT_TRUE(outcome.failed.empty());
  EXPECT_TRUE(outcome.skipped.empty());
  EXPECT_EQ(order.size(), tasks.size());
  EXPECT_EQ(order.front(), "a");
  EXPECT_EQ(most_at_once, 2u);  // b and f0 side by side once a has ended
}

TEST(TaskGraph, AFailureSkipsOnlyTheTasksThatNeedIt) {
  const std::vector<cs::GraphTask> tasks = {{"a", {}}, {"b", {"a"}}, {"f0", {}}, {"f1", {"b"}}, {"f2", {"a"}}};
  std::vector<std::string> started;
  const auto outcome = cs::run_task_graph(
      tasks, {"0"},
      [&](size_t i, const std::string&) {
        started.push_back(tasks[i].id);
        return child(tasks[i].id == "b" ? 3 : 0);
      },
      [](size_t, const std::string&, int) {});
  EXPECT_EQ(outcome.failed, std::vector<std::string>{"b"});
  EXPECT_EQ(outcome.skipped, std::vector<std::string>{"f1"});
  EXPECT_EQ(started, (std::vector<std::string>{"a", "b", "f0", "f2"}));
}

}  // namespace
