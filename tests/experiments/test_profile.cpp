// `contraseg profile`: it profiles the configured step (the loss ops of that config), and its
// --trace file is a Chrome trace-event file with a span for every op of every timed step.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/precision.h"
#include "autograd/record_op.h"
#include "experiments/config.h"
#include "experiments/methods/stage_step.h"
#include "experiments/profile/profiler.h"
#include "experiments/settings.h"
#include "support/io_test_util.h"
#include "support/profile_test_util.h"

namespace {

// `contraseg ARGS`: stdout then stderr, and the exit status.
std::string run_contraseg(const std::string& args, int* status) {
  const cs::testing_io::RunResult r = cs::testing_io::run_contraseg(args);
  *status = r.status;
  return r.out + r.err;
}

// The op table of a profile: op name -> calls per step.
std::map<std::string, double> op_calls(const std::string& report) {
  std::map<std::string, double> calls;
  for (const auto& [name, columns] : cs::testing_profile::op_rows(report))
    calls[name] = columns.empty() ? 0.0 : std::stod(columns[0]);
  return calls;
}

const std::string kSmall = " --set image_size=64 --set threads=2 --steps 2 --warmup 1";

TEST(Profile, ProfilesTheConfiguredLoss) {
  struct Case {
    std::string args;                      // the stage and config profiled
    std::string description;               // what the profile says the step is
    std::vector<std::string> ops, absent;  // ops in its table, ops not in it
  };
  const std::vector<Case> cases = {
      // stage 2 of reference mode with L^D on 1x1 regions: no dense layer on the regions
      {"--stage pretrain-local --set compat=reference --set local.loss=ld --set local.region=1",
       "L^D on decoder blocks 1..3, 1x1 regions, reference mode, reference 1x1 negative table, 24 images",
       {"extract_regions", "ntxent_ld1x1_reference"},
       {"linear"}},
      // the paper default of stage 2: L^R on 3x3 regions through the shared dense layer
      {"--stage pretrain-local",
       "L^R on decoder blocks 1..3, 3x3 regions, paper mode",
       {"linear", "ntxent_lr3x3_paper"},
       {}},
      // stage 1 in reference mode: G^D over the released code's 48 slots
      {"--stage pretrain-global --set compat=reference",
       "G^D, reference mode, tau 0.1, 48 images",
       {"ntxent_gd_reference"},
       {"extract_regions"}},
  };
  for (const Case& c : cases) {
    int st = 0;
    const std::string report = run_contraseg("profile " + c.args + kSmall, &st);
    ASSERT_EQ(st, 0) << report;
    EXPECT_NE(report.find(c.description), std::string::npos) << report;
    const auto calls = op_calls(report);
    for (const std::string& op : c.ops) EXPECT_EQ(calls.count(op), 1u) << op << "\n" << report;
    for (const std::string& op : c.absent) EXPECT_EQ(calls.count(op), 0u) << op << "\n" << report;
  }
}

// The row of `op` in a profile's table, split into its columns.
std::vector<std::string> op_row(const std::string& report, const std::string& op) {
  std::istringstream in(report);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::vector<std::string> cols;
    for (std::string c; row >> c;) cols.push_back(c);
    if (!cols.empty() && cols[0] == op) return cols;
  }
  return {};
}

// Columns: op, calls/st, fwd ms, bwd ms, share, fwd GF/s, bwd GF/s, fwd GB/s, bwd GB/s; the
// header names the precision, and bf16 says how it runs on this machine.
TEST(Profile, ReportsRatesAndThePrecision) {
  for (const char* precision : {"fp32", "bf16"}) {
    int st = 0;
    const std::string out = run_contraseg(std::string("profile --set precision=") + precision + kSmall, &st);
    ASSERT_EQ(st, 0) << out;
    EXPECT_NE(out.find(std::string(", ") + precision + ", 2 steps"), std::string::npos) << out;
    EXPECT_EQ(out.find("bf16: ") != std::string::npos, std::string(precision) == "bf16") << out;
    const auto conv = op_row(out, "conv2d"), bn = op_row(out, "batch_norm_relu");
    ASSERT_EQ(conv.size(), 9u) << out;
    ASSERT_EQ(bn.size(), 9u) << out;
    for (int c : {5, 6, 7, 8}) EXPECT_GT(std::stod(conv[c]), 0.0) << conv[c];  // FLOPs and bytes
    EXPECT_EQ(bn[5], "-");  // no FLOPs counted for a memory-bound op ...
    for (int c : {7, 8}) EXPECT_GT(std::stod(bn[c]), 0.0) << bn[c];  // ... but its traffic
  }
}

// Hears the ops for the profiler and keeps the precision each convolution and dense layer ran its
// forward pass in (the ops that read it, autograd/precision.h).
struct PrecisionTap : cs::OpObserver {
  explicit PrecisionTap(cs::OpObserver* next) : next(next) {}
  void begin(const cs::OpEvent& e) override {
    const std::string name = e.name;
    if (!e.backward && (name == "conv2d" || name == "linear")) seen[cs::precision_name(cs::compute_precision())]++;
    next->begin(e);
  }
  void end(const cs::OpEvent& e) override { next->end(e); }
  cs::OpObserver* next;
  std::map<std::string, int> seen;  // precision name -> forward passes of convolutions and dense layers
};

// What the profile times is what the precision asks for: the profiler's step (built from the
// settings as `contraseg profile` builds it) runs every convolution and dense layer in it.
TEST(Profile, TheProfiledStepRunsInTheConfiguredPrecision) {
  for (const std::string precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(precision);
    cs::Config c;
    c.set("image_size", "64");
    c.set("threads", "2");
    c.set("finetune.batch", "4");
    c.set("precision", precision);
    c.validate();
    const cs::Settings settings = cs::resolve_settings(c);
    ASSERT_EQ(cs::precision_name(settings.run.precision), precision);
    auto model = cs::make_model(settings, cs::Stage::Finetune, cs::Device::CPU);
    const auto stacks = cs::random_stacks(4, 6, 64, model->config().num_classes, 1);
    const auto step = cs::make_stage_step(cs::Stage::Finetune, settings, *model, stacks);
    cs::Profiler prof(cs::Device::CPU);  // installs itself as the observer
    PrecisionTap tap(&prof);
    cs::set_op_observer(&tap);
    step->run(0, &prof);
    cs::set_op_observer(nullptr);
    const std::string report = prof.report(1);
    ASSERT_EQ(op_row(report, "conv2d").size(), 9u) << report;  // the profiler heard the step
    const std::string other = precision == "fp32" ? "bf16" : "fp32";
    EXPECT_GT(tap.seen[precision], 0) << "convolutions and dense layers that ran in " << precision;
    EXPECT_EQ(tap.seen[other], 0) << "convolutions and dense layers that ran in " << other;
  }
}

TEST(Profile, TraceHoldsEverySpanOfTheTimedSteps) {
  const cs::testing_io::TempDir dir;  // this test's own folder: test runs side by side do not share the file
  const std::string path = dir / "profile_trace.json";
  int st = 0;
  const std::string out = run_contraseg("profile --trace " + path + kSmall, &st);
  ASSERT_EQ(st, 0) << out;
  std::ifstream f(path);
  ASSERT_TRUE(f) << path;
  const nlohmann::json j = nlohmann::json::parse(f);  // throws on invalid JSON
  ASSERT_TRUE(j.contains("traceEvents"));
  const auto& events = j["traceEvents"];
  ASSERT_TRUE(events.is_array());

  struct Span {
    std::string name, cat;
    double ts, end;
    std::string shapes;
  };
  std::vector<Span> steps, phases, ops;
  std::map<std::string, int> forward_events;
  for (const auto& e : events) {
    ASSERT_TRUE(e.contains("ph") && e.contains("name") && e.contains("pid") && e.contains("tid")) << e.dump();
    if (e["ph"] == "M") continue;
    ASSERT_EQ(e["ph"], "X") << e.dump();
    ASSERT_TRUE(e["ts"].is_number() && e["dur"].is_number()) << e.dump();
    ASSERT_GE(e["dur"].get<double>(), 0.0);
    const Span s{e["name"], e["cat"], e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>(),
                 e["args"].value("shapes", "")};
    if (s.cat == "step") steps.push_back(s);
    else if (s.cat == "phase") phases.push_back(s);
    else {
      ASSERT_TRUE(s.cat == "forward" || s.cat == "backward") << e.dump();
      ops.push_back(s);
      if (s.cat == "forward") forward_events[s.name]++;
    }
  }
  ASSERT_EQ(steps.size(), 2u);
  ASSERT_EQ(phases.size(), 2u * 4);  // data, forward, backward, optimizer per step
  // Every op lies inside a phase, and every phase inside a step: the viewer nests them.
  auto inside = [](const Span& a, const std::vector<Span>& outer) {
    for (const Span& o : outer)
      if (a.ts >= o.ts && a.end <= o.end) return true;
    return false;
  };
  for (const Span& p : phases) EXPECT_TRUE(inside(p, steps)) << p.name;
  for (const Span& o : ops) EXPECT_TRUE(inside(o, phases)) << o.name;
  // Fine-tuning records every op on the tape: each span carries its shapes.
  for (const Span& o : ops) EXPECT_NE(o.shapes.find(" -> ["), std::string::npos) << o.name << " " << o.cat;
  // The same ops as the table, as often: an event for every op of the step.
  const auto calls = op_calls(out);
  ASSERT_FALSE(calls.empty()) << out;
  for (const auto& [name, per_step] : calls) EXPECT_EQ(forward_events[name], 2 * per_step) << name;
  EXPECT_EQ(forward_events.size(), calls.size());
  // The trace written above is replaced only on request.
  const auto before = std::filesystem::last_write_time(path);
  const std::string again = run_contraseg("profile --trace " + path + " --steps 1", &st);
  EXPECT_NE(st, 0);
  EXPECT_NE(again.find(path + ": exists already; add --overwrite to replace it"), std::string::npos) << again;
  EXPECT_EQ(std::filesystem::last_write_time(path), before);
  run_contraseg("profile --trace " + path + " --overwrite" + kSmall, &st);
  EXPECT_EQ(st, 0);
}

TEST(Profile, BadArgumentsFailBeforeAnyWork) {
  int st = 0;
  const std::string out = run_contraseg("profile --steps 0", &st);
  EXPECT_EQ(st, 2) << out;
  const cs::testing_io::TempDir dir;
  const std::string absent = dir / "no-such-folder";
  const std::string missing = run_contraseg("profile --trace " + absent + "/x.json --steps 1", &st);
  EXPECT_NE(st, 0);
  EXPECT_NE(missing.find(absent), std::string::npos) << missing;
  EXPECT_EQ(missing.find("op "), std::string::npos) << missing;  // no profile was run
}

}  // namespace
