// Entry point of contraseg_bench: Google Benchmark's usual main, plus one line per step benchmark
// in the PyTorch twin's format (bench/peer/unet_step.py), printed after the table:
//
//   unet_step peer=contraseg device=cpu threads=2 batch=20 size=192 ms/step=812.3 images/s=24.6
//
// A benchmark opts in by setting its label to "<what> peer=contraseg device=... size=..." and a
// "ms/step" counter; the line is its label followed by ms/step and images/s (= batch / step time).
// With --benchmark_format=json|csv the library's JSON or CSV reporter runs and no line is printed;
// --benchmark_color and --benchmark_counters_tabular are honoured.
//
// A benchmark that fails (SkipWithError: a step that threw, a plan cuDNN refused) fails the run:
// the failures are listed on stderr and the exit status is 1, so that scripts such as
// scripts/gpu-check.sh cannot report a throwing step as passed. CUDA benchmarks are registered only
// when a device is visible, so a machine without a GPU has nothing to fail there.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

// A reporter that also keeps the failed runs ("name: message").
template <class Base>
class FailureKeeping : public Base {
 public:
  using Base::Base;
  using Run = typename Base::Run;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.error_occurred) failures_.push_back(r.benchmark_name() + ": " + r.error_message);
    Base::ReportRuns(runs);
  }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::vector<std::string> failures_;
};

class PeerLineReporter : public FailureKeeping<benchmark::ConsoleReporter> {
 public:
  using FailureKeeping<benchmark::ConsoleReporter>::FailureKeeping;

  void ReportRuns(const std::vector<Run>& runs) override {
    FailureKeeping<benchmark::ConsoleReporter>::ReportRuns(runs);
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

// The value of --name=value in argv (before the library consumes its flags), or "".
std::string flag(int argc, char** argv, const char* name) {
  const std::string prefix = std::string("--") + name + "=";
  std::string v;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) v = argv[i] + prefix.size();
  return v;
}

// Runs the benchmarks with `reporter`; returns the exit status (1 when one failed).
template <class Reporter>
int run_with(Reporter& reporter) {
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (reporter.failures().empty()) return 0;
  std::fprintf(stderr, "contraseg_bench: %zu benchmark(s) failed:\n", reporter.failures().size());
  for (const auto& f : reporter.failures()) std::fprintf(stderr, "  %s\n", f.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string format = flag(argc, argv, "benchmark_format");
  const std::string tabular = flag(argc, argv, "benchmark_counters_tabular");
  const std::string color = flag(argc, argv, "benchmark_color");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  int status = 0;
  if (format == "json") {
    FailureKeeping<benchmark::JSONReporter> reporter;
    status = run_with(reporter);
  } else if (format == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // the library still offers it
    FailureKeeping<benchmark::CSVReporter> reporter;
#pragma GCC diagnostic pop
    status = run_with(reporter);
  } else {
    // the options the library would derive from its flags for its own console reporter
    int opts = benchmark::ConsoleReporter::OO_None;
    if (color == "true" || color == "yes" || ((color.empty() || color == "auto") && isatty(fileno(stdout))))
      opts |= benchmark::ConsoleReporter::OO_Color;
    if (tabular == "true" || tabular == "yes" || tabular == "1") opts |= benchmark::ConsoleReporter::OO_Tabular;
    PeerLineReporter reporter(static_cast<benchmark::ConsoleReporter::OutputOptions>(opts));
    status = run_with(reporter);
  }
  benchmark::Shutdown();
  return status;
}
