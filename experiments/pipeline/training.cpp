#include "io/paths.h"
#include "experiments/pipeline/training.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <omp.h>

#include "experiments/pipeline/data.h"
#include "experiments/pipeline/preemption.h"
#include "nn/checkpoint.h"
#include "ops/cpu_threads.h"
#include "ops/precision.h"
#ifdef CONTRASEG_CUDA
#include "ops/cuda/conv_plan.h"
#endif

namespace cs {

Device checked_device(const Settings& settings) {
  const Device d = settings.run.device;
  if (d == Device::CUDA && !cuda_available())
    throw std::runtime_error("device = cuda, but " + device_description(Device::CUDA) +
                             "; use --device cpu");
#ifdef CONTRASEG_CUDA
  // Set for CPU runs too, where it changes nothing: the CPU kernels sum in a fixed order always.
  cuda::set_conv_deterministic(settings.run.deterministic);
#endif
  return d;
}

int thread_count(const Settings& settings) {
  const int asked = settings.run.threads;
  if (asked <= 0) return omp_get_max_threads();
  // More threads than the machine runs at once only wait for each other at every barrier: 32
  // threads on 2 cores trained 40 times slower than 2. Said once, however many stages run.
  const int cores = std::max(1, omp_get_num_procs());
  if (asked <= cores) return asked;
  static std::once_flag warned;
  std::call_once(warned, [&] {
    std::fprintf(stderr, "warning: threads = %d is more than the %d hardware threads of this machine; using %d\n",
                 asked, cores, cores);
  });
  return cores;
}

void apply_threads(const Settings& settings) {
  if (settings.run.threads > 0) set_cpu_threads(thread_count(settings));
}

namespace {
StepHook& step_hook() {
  static StepHook hook = nullptr;
  return hook;
}
}  // namespace

void set_step_hook(StepHook hook) { step_hook() = hook; }

std::map<std::string, std::string> checkpoint_metadata(const Settings& settings, Stage stage, int step,
                                                       const std::string& config_hash) {
  return {{"stage", stage_name(stage)}, {"step", std::to_string(step)}, {"config", settings.config.to_json().dump()},
          {"seed", std::to_string(settings.run.seed)}, {"config_hash", config_hash}};
}

namespace {

// The step to resume at: after the newest periodic checkpoint that verifies (latest, else the
// previous one), loaded into model and Adam; 0 when there is none.
int resume_from_checkpoint(RunFolder& run, UNet& model, Adam& adam, Stage stage) {
  const CheckpointChoice choice = choose_checkpoint({run.checkpoint("latest"), run.checkpoint("previous")});
  for (const auto& r : choice.rejected)
    if (path_exists(r.path)) run.log_line("resume: " + r.reason + "; not used");
  if (choice.path.empty()) {
    run.log_line("resume: no checkpoint in " + run.dir() + ", starting from step 0");
    return 0;
  }
  const auto md = read_checkpoint_metadata(choice.path);
  const auto hash = md.find("config_hash");
  if (hash == md.end() || hash->second != run.config_hash())
    throw std::runtime_error(fmt::format("{}: made with config hash {}, but the run's config has {}", choice.path,
                                         hash == md.end() ? "(none)" : hash->second, run.config_hash()));
  CheckpointLoadOptions o;
  o.adam = &adam;
  const auto rep = load_checkpoint(choice.path, model.params(), o);
  const int start = std::stoi(rep.metadata.at("step")) + 1;
  run.log_line(fmt::format("resumed {} at step {} from {}", stage_name(stage), start, choice.path));
  return start;
}

}  // namespace

void run_loop(const Settings& settings, RunFolder& run, StageStep& step, const LoopSpec& spec, bool resume, bool quiet) {
  UNet& model = step.model();
  Adam& adam = step.adam();
  const Stage stage = step.stage();
  const PreemptionGuard preemption;  // SIGTERM, SIGUSR1: checkpoint and stop (preemption.h)
  const int start = resume ? resume_from_checkpoint(run, model, adam, stage) : 0;
  if (settings.run.precision == Precision::BF16) run.log_line(bf16_description(settings.run.device), !quiet);
  const int every = std::max(1, settings.run.checkpoint_every);
  const int log_every = std::max(1, settings.run.log_every);
  using Clock = std::chrono::steady_clock;
  const auto loop_start = Clock::now();  // the ETA: the pace of this process so far
  double ms_acc = 0, loss_acc = 0;
  int n_acc = 0;
  for (int s = start; s < spec.iterations; ++s) {
    const auto t0 = Clock::now();
    const double loss = step.run(s);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!std::isfinite(loss))
      throw std::runtime_error(fmt::format("{}: loss is {} at step {}; stopped. The last good checkpoint is {}",
                                           stage_name(stage), loss, s, run.checkpoint("latest")));
    ms_acc += ms;
    loss_acc += loss;
    ++n_acc;
    if ((s + 1) % log_every == 0 || s + 1 == spec.iterations) {
      const double m = ms_acc / n_acc;
      const double spent = std::chrono::duration<double>(Clock::now() - loop_start).count();
      const double eta = spent / (s + 1 - start) * (spec.iterations - s - 1);  // validation included
      run.log_step(s + 1, spec.iterations, loss_acc / n_acc, m, step.images_per_step() * 1000.0 / m, eta, !quiet);
      ms_acc = loss_acc = 0;
      n_acc = 0;
    }
    if (!quiet) run.progress(s + 1, spec.iterations, loss, ms);
    if (spec.validate && spec.validate_every > 0 &&
        ((s + 1) % spec.validate_every == 0 || s + 1 == spec.iterations))
      spec.validate(s);
    const std::string signal = preemption_signal();
    if (((s + 1) % every == 0 || !signal.empty()) && s + 1 < spec.iterations)
      save_checkpoint_rotating(run.checkpoint("latest"), run.checkpoint("previous"), model.params(), &adam,
                               checkpoint_metadata(settings, stage, s, run.config_hash()));
    if (!signal.empty() && s + 1 < spec.iterations) {
      run.end_progress();
      run.log_line(fmt::format("preempted: {} after step {}/{}; saved {}; a resumed run continues from there", signal,
                               s + 1, spec.iterations, run.checkpoint("latest")));
      preemption_handled();
      throw Preempted(fmt::format("{}: preempted ({}) after step {}; resume it to continue", run.dir(), signal, s + 1));
    }
    if (step_hook()) step_hook()(s + 1);
  }
  run.end_progress();
  save_checkpoint(run.checkpoint("final"), model.params(), &adam,
                  checkpoint_metadata(settings, stage, spec.iterations - 1, run.config_hash()));
}

}  // namespace cs
