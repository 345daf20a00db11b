#include "experiments/pipeline/parallel_runs.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "experiments/pipeline/console.h"

namespace cs {

void run_side_by_side(size_t n, int workers, const std::function<void(size_t)>& run,
                      const std::function<std::string(size_t)>& title) {
  if (workers <= 1) {
    for (size_t i = 0; i < n; ++i) {
      say(title(i));
      run(i);
    }
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;  // the terminal and the first error
  std::exception_ptr first_error;
  auto worker = [&] {
    for (size_t i = next++; i < n && !failed; i = next++) {
      ConsoleCapture capture;
      try {
        run(i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mu);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
      const std::lock_guard<std::mutex> lock(mu);
      // printf, not say(): this thread's capture is still active.
      std::printf("%s\n%s", title(i).c_str(), capture.text().c_str());
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < std::min<int>(workers, static_cast<int>(n)); ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace cs
