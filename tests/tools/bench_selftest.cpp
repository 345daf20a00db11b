// Two stand-in benchmarks for bench/bench_main.cpp's exit status (tests/bench/test_bench_main.cpp):
// one that passes, and one whose step throws and is reported as the project's benchmarks report a
// failure (SkipWithError with the exception's message).
#include <benchmark/benchmark.h>

#include <stdexcept>

namespace {

void BM_SelftestPasses(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(st.iterations());
}

void BM_SelftestThrows(benchmark::State& st) {
  try {
    for (auto _ : st) throw std::runtime_error("the step threw on purpose");
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

BENCHMARK(BM_SelftestPasses)->Iterations(3);
BENCHMARK(BM_SelftestThrows)->Iterations(3);

}  // namespace
