// Entry point of contraseg_bench: Google Benchmark's usual main, plus one line per step benchmark
// in the PyTorch twin's format (bench/peer/unet_step.py), printed after the table:
//
//   unet_step peer=contraseg device=cpu threads=2 batch=20 size=192 ms/step=812.3 images/s=24.6
//
// A benchmark opts in by setting its label to "<what> peer=contraseg device=... size=..." and a
// "ms/step" counter; the line is its label followed by ms/step and images/s (= batch / step time).
// With --benchmark_format=json|csv the library's own reporter runs and no line is printed.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

class PeerLineReporter : public benchmark::ConsoleReporter {
 public:
  using benchmark::ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred || r.report_label.find(" peer=contraseg ") == std::string::npos) continue;
      // single runs, and the median of repeated runs
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      const auto ms = r.counters.find("ms/step");
      const auto ips = r.counters.find("images/s");
      if (ms == r.counters.end() || ips == r.counters.end()) continue;
      char buf[96];
      std::snprintf(buf, sizeof buf, " ms/step=%.1f images/s=%.1f", ms->second.value, ips->second.value);
      lines_.push_back(r.report_label + buf);
    }
  }

  void Finalize() override {
    benchmark::ConsoleReporter::Finalize();
    if (lines_.empty()) return;
    std::printf("\n");
    for (const auto& l : lines_) std::printf("%s\n", l.c_str());
    std::fflush(stdout);
  }

 private:
  std::vector<std::string> lines_;
};

// True unless the user asked for another output format on the console.
bool console_format(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--benchmark_format=", 19) == 0 && std::strcmp(a + 19, "console") != 0) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const bool console = console_format(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (console) {
    PeerLineReporter reporter(isatty(fileno(stdout)) ? benchmark::ConsoleReporter::OO_Color
                                                     : benchmark::ConsoleReporter::OO_None);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
