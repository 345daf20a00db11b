// contraseg_bench's entry point (bench/bench_main.cpp) fails the run when a benchmark fails, in
// every output format, and lists the failure; a run without failures exits 0. Driven through
// contraseg_bench_selftest: bench_main.cpp with the stand-ins of tests/tools/bench_selftest.cpp.
#include <gtest/gtest.h>

#include <string>

#include "support/io_test_util.h"

namespace cs {
namespace {

#ifdef CONTRASEG_BENCH_SELFTEST
testing_io::RunResult run_bench(const std::string& args) {
  return testing_io::run_contraseg(args, CONTRASEG_BENCH_SELFTEST);
}

TEST(BenchMain, AThrowingBenchmarkFailsTheRunAndIsNamed) {
  for (const char* format : {"console", "json", "csv"}) {
    SCOPED_TRACE(format);
    const auto r = run_bench(std::string("--benchmark_format=") + format);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("1 benchmark(s) failed"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("BM_SelftestThrows"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("the step threw on purpose"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("BM_SelftestPasses"), std::string::npos) << "the passing one still reports: " << r.out;
  }
}

TEST(BenchMain, PassingBenchmarksExitZero) {
  const auto r = run_bench("--benchmark_filter=BM_SelftestPasses");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("failed"), std::string::npos) << r.err;
}
#else
TEST(BenchMain, AThrowingBenchmarkFailsTheRunAndIsNamed) {
  GTEST_SKIP() << "built without benchmarks (CONTRASEG_BENCH=OFF)";
}
#endif

}  // namespace
}  // namespace cs
