// End-to-end training-step throughput of the three stages (ACDC geometry: 192x192, 4 classes),
// on the CPU and, when a GPU is visible, on CUDA. Each benchmark runs the stage's StageStep
// (experiments/methods/stage_step.h), the same step that training and `contraseg profile` run,
// built from the default config with the keys below. One batch is sampled from random slice
// stacks before timing; the timed part is zero_grad, forward, loss, backward and Adam.
//
// Each in fp32 and in bf16 (/fp32, /bf16: the precision key).
//   BM_UNetStep/<dev>/batch:20/size:192   stage 3: U-Net forward, soft Dice (with background),
//                                         backward, Adam on augmented slices (the PyTorch twin
//                                         bench/peer/unet_step.py does the same step)
//   BM_UNetStep/<dev>/batch:20/size:96    the same at the demo size
//   BM_Stage1Step/<dev>/batch:48/size:192 encoder + g1 + paper G^D (V = 6 volumes x 4 partitions
//                                         x 2 views = 48 images), backward, Adam
//   BM_Stage2Step/<dev>/batch:20/size:192 frozen encoder (no tape, BN on running statistics) +
//                                         decoder blocks 1..3 + g2 + L^R (3x3 regions), backward,
//                                         Adam over the trainable (non-encoder) parameters
//
//   contraseg_bench --benchmark_filter='Step/cpu'
//
// Counters: images/s, ms/step and GFLOP/s of the convolutions and dense layers, counted from
// nn/summary.h's forward FLOPs: a trained layer costs 3 x its forward (forward, backward-data,
// backward-weights), a frozen one (stage 2's encoder) 1 x. The first layer's backward-data, which
// training skips, is counted anyway (0.3% of the U-Net step). Each run also prints, after the table, one line in the twin's format:
//   unet_step peer=contraseg device=cpu threads=2 batch=20 size=192 precision=fp32 isa=avx2 ms/step=... images/s=...
// (see bench/bench_main.cpp), to be put next to `python3 bench/peer/unet_step.py --threads 2`.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "autograd/cuda_runtime_api.h"
#include "autograd/device.h"
#include "experiments/methods/stage_step.h"
#include "losses/local.h"
#include "nn/summary.h"
#include "ops/precision.h"

namespace {

using namespace cs;

constexpr int kWarmupSteps = 2;  // as the twin: builds the oneDNN / cuDNN plans, fills the allocator caches

// The label printed in the twin's format (the reporter appends ms/step and images/s).
std::string peer_label(const char* what, Device dev, int batch, int size, const std::string& precision) {
  std::string label = std::string(what) + " peer=contraseg device=" + device_name(dev) +
                      " threads=" + std::to_string(omp_get_max_threads()) + " batch=" + std::to_string(batch) +
                      " size=" + std::to_string(size) + " precision=" + precision;
  if (dev == Device::CPU) label += " isa=" + cpu_bf16().isa;
  if (precision == "bf16") label += std::string(" bf16=") + (native_bf16(dev) ? "native" : "emulated");
  return label;
}

// Forward FLOPs per image of the rows of `s` whose name starts with one of `prefixes`.
double forward_flops(const ModelSummary& s, const std::vector<const char*>& prefixes) {
  double f = 0.0;
  for (const LayerRow& r : s.rows)
    for (const char* p : prefixes)
      if (r.name.compare(0, std::strlen(p), p) == 0) {
        f += r.flops;
        break;
      }
  return f;
}

// Convolution and dense FLOPs of one training step of `stage` (see the header comment).
double step_flops(Stage stage, const Settings& settings, int images) {
  const UNetConfig u = unet_config(settings, stage);
  if (stage == Stage::Finetune) return 3.0 * summarize_model(u).unet_flops * images;
  if (stage == Stage::Global) return 3.0 * forward_flops(summarize_model(u), {"enc_", "reg_"}) * images;
  // stage 2: the frozen encoder forward only; blocks 1..l and g2 trained, g2_pred once per region
  const int l = settings.local.blocks;
  const ModelSummary sum = summarize_model(u, l);
  const auto regions = local_region_table(region_grid(u.image_size >> (5 - l), settings.local.region)).positions.size();
  const double trained = forward_flops(sum, {"dec_dc6", "dec_c5_", "dec_dc5", "dec_c4_", "dec_dc4", "dec_c3_", "g2_c1_"}) +
                         forward_flops(sum, {"g2_pred"}) * static_cast<double>(regions);
  return (forward_flops(sum, {"enc_"}) + 3.0 * trained) * images;
}

// Builds the step of `stage` from the default config with `keys`, samples one batch, runs it
// kWarmupSteps times, then once per benchmark iteration (synchronised), and sets the counters.
void BM_StageStep(benchmark::State& st, const char* what, Stage stage, Device dev,
                  std::vector<std::pair<const char*, std::string>> keys) {
  if (dev == Device::CUDA && !cuda_available()) {
    st.SkipWithError("no CUDA device visible");
    return;
  }
  try {
    Config cfg;
    cfg.set("device", device_name(dev));
    for (const auto& [k, v] : keys) cfg.set(k, v);
    cfg.validate();
    const Settings settings = resolve_settings(cfg);
    auto model = make_model(settings, stage, dev);
    const int size = model->config().image_size;
    const auto stacks = random_stacks(12, 12, size, model->config().num_classes, 1);
    const auto step = make_stage_step(stage, settings, *model, stacks);
    const int images = step->images_per_step();
    const StepBatch batch = step->sample(0);
    st.SetLabel(peer_label(what, dev, images, size, precision_name(settings.run.precision)));
    for (int i = 0; i < kWarmupSteps; ++i) step->train(batch);
    device_synchronize(dev);
    double seconds = 0.0;
    for (auto _ : st) {
      const auto t0 = std::chrono::steady_clock::now();
      step->train(batch);
      device_synchronize(dev);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const double iters = static_cast<double>(st.iterations());
    st.counters["ms/step"] = 1e3 * seconds / iters;
    st.counters["images/s"] = images * iters / seconds;
    st.counters["GFLOP/s"] = 1e-9 * step_flops(stage, settings, images) * iters / seconds;
    st.SetItemsProcessed(st.iterations() * images);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// CPU steps take seconds: a fixed number of timed steps (5 as the twin, more for the small
// ones) after the warm-up. GPU steps take milliseconds: the usual minimum time.
void configure(benchmark::internal::Benchmark* b, Device dev, int cpu_iterations) {
  // CPU column: all threads of the process (with 1 thread, a load-robust measure of the work)
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  if (dev == Device::CPU) b->Iterations(cpu_iterations);
  else b->MinTime(2.0);
}

std::string name(const char* bench, Device dev, int batch, int size) {
  return std::string(bench) + "/" + device_name(dev) + "/batch:" + std::to_string(batch) +
         "/size:" + std::to_string(size);
}

int register_all() {
  std::vector<Device> devices{Device::CPU};
  if (cuda_available()) devices.push_back(Device::CUDA);
  for (Device dev : devices) {
    auto add = [&](const char* bench, const char* what, Stage stage, int batch, int size, int cpu_iterations,
                   std::vector<std::pair<const char*, std::string>> keys) {
      keys.push_back({"image_size", std::to_string(size)});
      for (const char* precision : {"fp32", "bf16"}) {
        auto k = keys;
        k.push_back({"precision", precision});
        const std::string n = name(bench, dev, batch, size) + "/" + precision;
        configure(benchmark::RegisterBenchmark(n.c_str(), BM_StageStep, what, stage, dev, k), dev, cpu_iterations);
      }
    };
    add("BM_UNetStep", "unet_step", Stage::Finetune, 20, 192, 5, {{"finetune.batch", "20"}, {"finetune.loss", "dice"}});
    add("BM_UNetStep", "unet_step", Stage::Finetune, 20, 96, 10, {{"finetune.batch", "20"}, {"finetune.loss", "dice"}});
    // paper G^D: 6 volumes x 4 partitions x 2 views = 48 images
    add("BM_Stage1Step", "stage1_step", Stage::Global, 48, 192, 3,
        {{"global.loss", "gd"}, {"global.volumes", "6"}, {"global.partitions", "4"}});
    // paper L^R, 3x3 regions on decoder block 3: 10 slices x 2 views, frozen encoder on its BN statistics
    add("BM_Stage2Step", "stage2_step", Stage::Local, 20, 192, 5,
        {{"local.loss", "lr"}, {"local.batch", "10"}, {"local.blocks", "3"}, {"local.region", "3"}});
  }
  return 0;
}
const int registered = register_all();

}  // namespace
