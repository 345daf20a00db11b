// run_side_by_side: every run once, each run's terminal lines as one block under its title, and
// the first error passed on after the running runs end.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "experiments/pipeline/console.h"
#include "experiments/pipeline/parallel_runs.h"

namespace {

using cs::run_side_by_side;
using cs::say;

// Runs n runs of `lines` say() lines each on `workers` threads and returns what reached stdout.
std::string side_by_side_output(size_t n, int workers, int lines, std::set<size_t>* ran) {
  std::mutex mu;
  testing::internal::CaptureStdout();
  run_side_by_side(
      n, workers,
      [&](size_t i) {
        {
          const std::lock_guard<std::mutex> lock(mu);
          ran->insert(i);
        }
        for (int k = 0; k < lines; ++k) {
          say(fmt::format("run {} line {}", i, k));
          std::this_thread::yield();  // give the other workers a chance to interleave
        }
      },
      [](size_t i) { return fmt::format("title {}", i); });
  return testing::internal::GetCapturedStdout();
}

TEST(SideBySide, RunsEachOnceAndPrintsEachRunAsOneBlock) {
  std::set<size_t> ran;
  const std::string out = side_by_side_output(12, 3, 20, &ran);
  EXPECT_EQ(ran.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    std::string block = fmt::format("title {}\n", i);
    for (int k = 0; k < 20; ++k) block += fmt::format("run {} line {}\n", i, k);
    EXPECT_NE(out.find(block), std::string::npos) << "run " << i << " is not one block:\n" << out;
  }
}

TEST(SideBySide, OneWorkerRunsInOrderOnTheCallingThread) {
  std::set<size_t> ran;
  const std::string out = side_by_side_output(3, 1, 2, &ran);
  EXPECT_EQ(out, "title 0\nrun 0 line 0\nrun 0 line 1\ntitle 1\nrun 1 line 0\nrun 1 line 1\n"
                 "title 2\nrun 2 line 0\nrun 2 line 1\n");
}

TEST(SideBySide, TheFirstErrorStopsNewRunsAndIsRethrown) {
  std::atomic<int> started{0};
  std::atomic<bool> failure_reported{false};  // run 0's title is printed once its error is recorded
  testing::internal::CaptureStdout();
  try {
    run_side_by_side(
        100, 2,
        [&](size_t i) {
          ++started;
          if (i == 0) {
            while (started < 2) std::this_thread::yield();  // run 0 fails while run 1 is in flight
            throw std::runtime_error("run 0 failed");
          }
          while (!failure_reported) std::this_thread::yield();  // and run 1 ends after that
        },
        [&](size_t i) {
          if (i == 0) failure_reported = true;
          return fmt::format("title {}", i);
        });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "run 0 failed");
  }
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("title 0\n"), std::string::npos) << out;  // the failed run's lines still show
  EXPECT_NE(out.find("title 1\n"), std::string::npos) << out;  // the run in flight ends
  EXPECT_EQ(started.load(), 2);                                // and no other starts
}

TEST(SideBySide, ACaptureKeepsTheLinesOfItsThreadOnly) {
  testing::internal::CaptureStdout();
  std::string kept;
  {
    cs::ConsoleCapture capture;
    say("inside");
    std::thread([] { say("other thread"); }).join();
    EXPECT_FALSE(cs::console_live());
    kept = capture.text();
  }
  say("after");
  EXPECT_EQ(kept, "inside\n");
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "other thread\nafter\n");
}

}  // namespace
