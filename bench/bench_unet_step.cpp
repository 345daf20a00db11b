// End-to-end training-step throughput of the three stages (ACDC geometry: 192x192, 4 classes),
// on the CPU and, when a GPU is visible, on CUDA. Random inputs: this measures compute only.
//
//   BM_UNetStep/<dev>/batch:20/size:192   stage 3: U-Net forward, soft Dice (with background),
//                                         backward, Adam (the PyTorch twin bench/peer/unet_step.py
//                                         does exactly this step)
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
//   unet_step peer=contraseg device=cpu threads=2 batch=20 size=192 ms/step=... images/s=...
// (see bench/bench_main.cpp), to be put next to `python3 bench/peer/unet_step.py --threads 2`.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "autograd/cuda_runtime_api.h"
#include "autograd/device.h"
#include "autograd/tape.h"
#include "autograd/tensor.h"
#include "losses/global.h"
#include "losses/local.h"
#include "losses/segmentation.h"
#include "nn/adam.h"
#include "nn/summary.h"
#include "nn/unet.h"

namespace {

using namespace cs;

constexpr int kWarmupSteps = 2;  // as the twin: builds the oneDNN / cuDNN plans, fills the allocator caches

// x [n, size, size, 1] uniform in [0, 1)
Tensor random_images(int n, int size, Device dev, std::mt19937_64& g) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n) * size * size);
  for (auto& x : v) x = u(g);
  return Tensor::from_vector({n, size, size, 1}, v, dev);
}

// One-hot labels [n, size, size, classes] of uniformly random classes.
Tensor random_onehot(int n, int size, int classes, Device dev, std::mt19937_64& g) {
  std::uniform_int_distribution<int> c(0, classes - 1);
  std::vector<float> v(static_cast<size_t>(n) * size * size * classes, 0.0f);
  for (size_t p = 0; p < v.size() / classes; ++p) v[p * classes + c(g)] = 1.0f;
  return Tensor::from_vector({n, size, size, classes}, v, dev);
}

// The label printed in the twin's format (the reporter appends ms/step and images/s).
std::string peer_label(const char* what, Device dev, int batch, int size) {
  return std::string(what) + " peer=contraseg device=" + device_name(dev) +
         " threads=" + std::to_string(omp_get_max_threads()) + " batch=" + std::to_string(batch) +
         " size=" + std::to_string(size);
}

// Runs `step` kWarmupSteps times, then once per benchmark iteration (synchronised), and sets the
// counters.
template <class Step>
void time_steps(benchmark::State& st, Device dev, int batch, double flops_per_step, Step step) {
  for (int i = 0; i < kWarmupSteps; ++i) step();
  device_synchronize(dev);
  double seconds = 0.0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    device_synchronize(dev);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double iters = static_cast<double>(st.iterations());
  st.counters["ms/step"] = 1e3 * seconds / iters;
  st.counters["images/s"] = batch * iters / seconds;
  st.counters["GFLOP/s"] = 1e-9 * flops_per_step * iters / seconds;
  st.SetItemsProcessed(st.iterations() * batch);
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

bool device_ok(benchmark::State& st, Device dev) {
  if (dev == Device::CUDA && !cuda_available()) {
    st.SkipWithError("no CUDA device visible");
    return false;
  }
  return true;
}

// Stage 3: forward, soft Dice with background, backward, Adam.
void BM_UNetStep(benchmark::State& st, Device dev, int batch, int size) {
  if (!device_ok(st, dev)) return;
  try {
    UNetConfig cfg = UNetConfig::for_dataset("acdc");
    cfg.image_size = size;
    const double fwd_flops = summarize_model(cfg).unet_flops;  // per image
    UNet model(cfg, dev);
    Adam adam(model.params());
    std::mt19937_64 g(1);
    const Tensor x = random_images(batch, size, dev, g);
    const Tensor y = random_onehot(batch, size, cfg.num_classes, dev, g);
    st.SetLabel(peer_label("unet_step", dev, batch, size));
    time_steps(st, dev, batch, 3.0 * fwd_flops * batch, [&] {
      model.params().zero_grad();
      Tensor loss = dice_loss(model.forward(x, RunMode::training()), y);
      backward(loss);
      adam.step();
    });
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// Stage 1: encoder + g1 + paper G^D over V volumes x 4 partitions x 2 views.
void BM_Stage1Step(benchmark::State& st, Device dev, int volumes, int size) {
  if (!device_ok(st, dev)) return;
  try {
    UNetConfig cfg = UNetConfig::stage1("acdc");
    cfg.image_size = size;
    const double fwd_flops = forward_flops(summarize_model(cfg), {"enc_", "reg_"});  // per image
    UNet model(cfg, dev);
    Adam adam(model.params());
    GlobalContrastiveLoss loss_fn(GlobalLossKind::GD, Compat::Paper, paper_partition_layout(volumes, 4), 0.1f, dev);
    const int batch = static_cast<int>(loss_fn.layout().size());
    std::mt19937_64 g(1);
    const Tensor x = random_images(batch, size, dev, g);
    st.SetLabel(peer_label("stage1_step", dev, batch, size));
    time_steps(st, dev, batch, 3.0 * fwd_flops * batch, [&] {
      model.params().zero_grad();
      const RunMode m = RunMode::training();
      Tensor loss = loss_fn(model.g1(model.encoder(x, m).bottleneck, m));
      backward(loss);
      adam.step();
    });
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// Stage 2: frozen encoder (no gradient, BN on running statistics: paper mode), decoder blocks
// 1..l, g2, L^R over `batch` images (batch/2 slices x 2 views), 3x3 regions.
void BM_Stage2Step(benchmark::State& st, Device dev, int batch, int size) {
  if (!device_ok(st, dev)) return;
  constexpr int l = 3;
  try {
    UNetConfig cfg = UNetConfig::stage2("acdc", l);
    cfg.image_size = size;
    UNet model(cfg, dev);
    model.params().freeze("enc_");
    Adam adam(model.params());
    LocalContrastiveLoss loss_fn(LocalLossOptions{}, batch, size >> (5 - l), dev);
    // per image: the encoder forward only; blocks 1..3 and g2 trained (g2_pred once per region)
    const ModelSummary sum = summarize_model(cfg, l);
    const double trained = forward_flops(sum, {"dec_dc6", "dec_c5_", "dec_dc5", "dec_c4_", "dec_dc4", "dec_c3_",
                                               "g2_c1_"}) +
                           forward_flops(sum, {"g2_pred"}) * static_cast<double>(loss_fn.table().positions.size());
    const double step_flops = (forward_flops(sum, {"enc_"}) + 3.0 * trained) * batch;
    std::mt19937_64 g(1);
    const Tensor x = random_images(batch, size, dev, g);
    st.SetLabel(peer_label("stage2_step", dev, batch, size));
    time_steps(st, dev, batch, step_flops, [&] {
      model.params().zero_grad();
      EncoderOutput enc;
      {
        NoGradGuard ng;
        enc = model.encoder(x, RunMode::frozen_encoder_bn());
      }
      const RunMode m = RunMode::training();
      Tensor loss = loss_fn(model.g2(model.decoder_blocks(enc, l, m), m), model.g2_pred_weight());
      backward(loss);
      adam.step();
    });
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
    configure(benchmark::RegisterBenchmark(name("BM_UNetStep", dev, 20, 192).c_str(), BM_UNetStep, dev, 20, 192), dev, 5);
    configure(benchmark::RegisterBenchmark(name("BM_UNetStep", dev, 20, 96).c_str(), BM_UNetStep, dev, 20, 96), dev, 10);
    configure(benchmark::RegisterBenchmark(name("BM_Stage1Step", dev, 48, 192).c_str(), BM_Stage1Step, dev, 6, 192), dev, 3);
    configure(benchmark::RegisterBenchmark(name("BM_Stage2Step", dev, 20, 192).c_str(), BM_Stage2Step, dev, 20, 192), dev, 5);
  }
  return 0;
}
const int registered = register_all();

}  // namespace
