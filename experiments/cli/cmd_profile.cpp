// `contraseg profile`: where the time of a training step goes, per op and per phase.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "autograd/allocator.h"
#include "autograd/tape.h"
#include "experiments/cli/cli.h"
#include "experiments/settings.h"
#include "experiments/pipeline/stage_checks.h"
#include "experiments/profile/profiler.h"
#include "experiments/pipeline/training.h"
#include "experiments/methods/stage_step.h"
#include "ops/precision.h"

namespace cs {
namespace {

CommandSpec profile_spec() {
  return {"profile", "time a stage's training step per op and per phase",
          "contraseg profile [--config CFG] [--stage pretrain-global|pretrain-local|pretrain-pretext|finetune] "
          "[--steps N] "
          "[--trace FILE.json]",
          "Runs N training steps of a stage exactly as training runs them (the configured loss, mode, BN\n"
          "behaviour and batch: change them with --config / --set) on random data of the configured size,\n"
          "and prints, per op, calls, forward and backward ms per step, share of the step and achieved\n"
          "GFLOP/s (convolutions and dense layers), then the phases (data, forward, backward, optimizer).\n"
          "On the GPU each op is timed alone (the stream is synchronised around it) and carries an NVTX\n"
          "range of its name. --trace writes every op, phase and step of the timed steps as a Chrome\n"
          "trace-event file that Perfetto (ui.perfetto.dev) and chrome://tracing open.\n",
          {config_option(), set_option(),
           choice("stage", {"pretrain-global", "pretrain-local", "pretrain-pretext", "finetune"},
                  "the stage (default finetune)"),
           option("steps", "N", "timed steps (default 5)"),
           option("warmup", "N", "untimed steps first (default 1)"),
           option("trace", "FILE.json", "write a Chrome trace-event file of the timed steps"),
           flag("overwrite", "replace an existing --trace file"), device_option()}};
}

int cmd_profile(const Args& a) {
  const Settings settings = resolve_settings(resolve_config(a));
  const Stage stage = parse_stage(a.get("stage", "finetune"));
  const int steps = a.get_int("steps", 5), warmup = a.get_int("warmup", 1);
  const std::string trace_path = a.get("trace", "");
  if (steps < 1 || warmup < 0) throw UsageError("profile: --steps must be >= 1 and --warmup >= 0");
  if (!trace_path.empty()) require_new_output_file(trace_path, a.flag("overwrite"));  // before any work
  apply_threads(settings);
  const Device dev = checked_device(settings);
  auto model = make_model(settings, stage, dev);
  const int S = model->config().image_size, C = model->config().num_classes;
  // Enough volumes for any batch layout of the config (paper G^D draws global.volumes distinct ones).
  const auto stacks = random_stacks(std::max(12, settings.global.volumes), 12, S, C, 1);
  const auto step = make_stage_step(stage, settings, *model, stacks);
  check_step_memory(*step);

  Profiler prof(dev);
  std::printf("profile: %s: %s, %dx%d, %s, %s, %d steps after %d warm-up\n", stage_name(stage),
              step->description().c_str(), S, S, device_description(dev).c_str(), precision_name(settings.run.precision),
              steps, warmup);
  if (settings.run.precision == Precision::BF16) std::printf("%s\n", bf16_description(dev).c_str());
  for (int s = 0; s < warmup; ++s) step->run(s);
  prof.reset();
  if (!trace_path.empty()) prof.enable_trace();
  const auto allocs0 = allocator_stats(dev).device_allocs;
  for (int s = warmup; s < warmup + steps; ++s) {
    prof.step_begin(s);
    step->run(s, &prof);
    prof.step_end();
  }
  std::printf("%s", prof.report(steps).c_str());
  std::printf("allocations from the system during the timed steps: %llu\n",
              static_cast<unsigned long long>(allocator_stats(dev).device_allocs - allocs0));
  if (!trace_path.empty()) {
    prof.trace().save(trace_path, std::string("contraseg profile ") + stage_name(stage), device_name(dev));
    std::printf("trace: %s (%zu spans; open in ui.perfetto.dev or chrome://tracing)\n", trace_path.c_str(),
                prof.trace().spans().size());
  }
  return 0;
}

}  // namespace

CS_COMMAND(profile_spec(), cmd_profile);

}  // namespace cs
