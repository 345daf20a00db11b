// autograd/device.h: subnormal floats flush to zero in the main thread, in OpenMP's threads and
// in threads the program starts (they inherit the setting), as a run's workers are.
#include <gtest/gtest.h>
#include <omp.h>

#include <thread>
#include <vector>

#include "autograd/device.h"

namespace cs {
namespace {

// 1e-20 squared is 1e-40, below float's smallest normal (1.2e-38): flushed, it is 0. The
// smallest subnormal read as an operand is 0 too (denormals-are-zero).
bool flushes_here() {
  volatile float a = 1e-20f, sub = 1.4e-45f;
  return a * a == 0.0f && sub * 1.0f == 0.0f;
}

TEST(Device, SubnormalsFlushToZeroInEveryThread) {
#if !defined(__SSE2__)
  GTEST_SKIP() << "subnormal flushing is set on x86-64 only";
#endif
  EXPECT_TRUE(cpu_flushes_subnormals());
  EXPECT_TRUE(flushes_here());
  std::vector<int> omp_ok(4, 0);
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 4; ++i) omp_ok[i] = flushes_here() && cpu_flushes_subnormals();
  for (int ok : omp_ok) EXPECT_TRUE(ok);
  bool thread_ok = false;
  std::thread([&] { thread_ok = flushes_here(); }).join();
  EXPECT_TRUE(thread_ok);
}

}  // namespace
}  // namespace cs
