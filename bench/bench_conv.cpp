// Micro-benchmarks of conv2d (ops/conv2d.h) on every distinct layer shape of the ACDC U-Net
// (docs/method.md §1.2-1.3: 192x192 input, fine-tuning batch 20), forward, backward-data and
// backward-weights, on the CPU and, when a GPU is visible, on CUDA; on a CPU with bf16
// instructions (ops/precision.h: native_bf16) also in its bf16 kernels (/bf16).
//
//   contraseg_bench --benchmark_filter='Conv/cpu'            all CPU shapes, all directions
//   contraseg_bench --benchmark_filter='Conv/cpu/fwd/3x3'    one direction and kernel size
//
// Name: BM_Conv/<device>/<direction>/<k>x<k>/<cin>-><cout>@<size>[/bf16], e.g. BM_Conv/cpu/fwd/3x3/16->16@192.
// Counters: GFLOP (a rate, GFLOP/s, shown as "GFLOP=123.4/s"; a multiply-add is 2 FLOPs; each direction does the forward's FLOP count,
// 2 * N*H*W*Cout*K*K*Cin), images/s (items_per_second) and `layers`: how many layers of the
// U-Net share that shape, so that sum(time * layers) over the shapes is the step's conv time.
// The kernels are called directly (no autograd), each with fresh outputs (beta = 0).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/cuda_runtime_api.h"
#include "autograd/device.h"
#include "autograd/tensor.h"
#include "bench/bench_data.h"
#include "ops/conv2d.h"
#include "ops/precision.h"

namespace {

using namespace cs;

constexpr int kBatch = 20;  // docs/method.md §4.3: the fine-tuning batch

// One distinct conv shape of the U-Net and the layers that use it.
struct ConvShape {
  int k, cin, cout, size;
  bool bias;
  const char* layers;  // names, for the docs and the table
  int count;           // how many layers have this shape
};

// Distinct shapes of the full U-Net at 192x192 (ACDC, 4 classes). The 2x2 up-convs run on the
// upsampled map, so their size is the block's output size.
const std::vector<ConvShape>& unet_shapes() {
  static const std::vector<ConvShape> s = {
      {3, 1, 16, 192, true, "enc_c1_a", 1},
      {3, 16, 16, 192, true, "enc_c1_b seg_c1_a seg_c1_b", 3},
      {3, 16, 32, 96, true, "enc_c2_a", 1},
      {3, 32, 32, 96, true, "enc_c2_b dec_c2_b", 2},
      {3, 32, 64, 48, true, "enc_c3_a", 1},
      {3, 64, 64, 48, true, "enc_c3_b dec_c3_b", 2},
      {3, 64, 128, 24, true, "enc_c4_a", 1},
      {3, 128, 128, 24, true, "enc_c4_b dec_c4_b", 2},
      {3, 128, 128, 12, true, "enc_c5_a enc_c5_b dec_c5_b", 3},
      {3, 128, 128, 6, true, "enc_c6_a enc_c6_b", 2},
      {3, 256, 128, 12, true, "dec_c5_a", 1},
      {3, 256, 128, 24, true, "dec_c4_a", 1},
      {3, 128, 64, 48, true, "dec_c3_a", 1},
      {3, 64, 32, 96, true, "dec_c2_a", 1},
      {3, 32, 16, 192, true, "dec_c1_a", 1},
      {3, 16, 4, 192, false, "seg_fin_layer", 1},
      {2, 128, 128, 12, true, "dec_dc6", 1},
      {2, 128, 128, 24, true, "dec_dc5", 1},
      {2, 128, 64, 48, true, "dec_dc4", 1},
      {2, 64, 32, 96, true, "dec_dc3", 1},
      {2, 32, 16, 192, true, "dec_dc2", 1},
  };
  return s;
}

enum class Dir { Fwd, BwdData, BwdWeights };
const char* dir_name(Dir d) { return d == Dir::Fwd ? "fwd" : d == Dir::BwdData ? "bwd_data" : "bwd_weights"; }

// One direction on one device: x [N,H,W,Cin], w [Cout,K,K,Cin], b [Cout] or undefined,
// dy and y [N,H,W,Cout]; dx like x, dw like w, db [Cout]. Outputs are overwritten (beta 0), as
// the first gradient contribution of a training step is. bf16: the CPU's bf16 kernels on bf16
// activations.
void conv_call(Device dev, Dir dir, bool bf16, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy,
               Tensor& y, Tensor& dx, Tensor& dw, Tensor& db) {
  float* dbp = b.defined() ? db.data() : nullptr;
#ifdef CONTRASEG_CUDA
  if (dev == Device::CUDA) {
    if (dir == Dir::Fwd) cuda::conv2d_forward(x, w, b, y);
    else if (dir == Dir::BwdData) cuda::conv2d_backward(x, w, dy, dx.data(), 0.f, nullptr, 0.f, nullptr, 0.f);
    else cuda::conv2d_backward(x, w, dy, nullptr, 0.f, dw.data(), 0.f, dbp, 0.f);
    return;
  }
#endif
  (void)dev;
  if (bf16) {
    if (dir == Dir::Fwd) cpu::conv2d_forward_bf16(x, w, b, y);
    else if (dir == Dir::BwdData) cpu::conv2d_backward_bf16(x, w, dy, dx.raw(), 0.f, nullptr, 0.f, nullptr, 0.f);
    else cpu::conv2d_backward_bf16(x, w, dy, nullptr, 0.f, dw.data(), 0.f, dbp, 0.f);
    return;
  }
  if (dir == Dir::Fwd) cpu::conv2d_forward(x, w, b, y);
  else if (dir == Dir::BwdData) cpu::conv2d_backward(x, w, dy, dx.data(), 0.f, nullptr, 0.f, nullptr, 0.f);
  else cpu::conv2d_backward(x, w, dy, nullptr, 0.f, dw.data(), 0.f, dbp, 0.f);
}

void BM_Conv(benchmark::State& st, Device dev, Dir dir, bool bf16, ConvShape s) {
  if (dev == Device::CUDA && !cuda_available()) {
    st.SkipWithError("no CUDA device visible");
    return;
  }
  const int64_t N = kBatch, H = s.size, W = s.size;
  // bf16: the activations (x, y, dy, dx) in bf16, as a bf16 training step holds them.
  const DType at = bf16 ? DType::BF16 : DType::F32;
  const Tensor x = cast(bench::random_normal({N, H, W, s.cin}, 1, 0.0f, 1.0f, dev), at);
  const Tensor w = bench::random_normal({s.cout, s.k, s.k, s.cin}, 2, 0.0f, 0.1f, dev);
  const Tensor b = s.bias ? bench::random_normal({s.cout}, 3, 0.0f, 1.0f, dev) : Tensor();
  const Tensor dy = cast(bench::random_normal({N, H, W, s.cout}, 4, 0.0f, 1.0f, dev), at);
  Tensor y = Tensor::empty({N, H, W, s.cout}, dev, at), dx = Tensor::empty(x.shape(), dev, at),
         dw = Tensor::empty(w.shape(), dev), db = Tensor::empty({s.cout}, dev);
  try {
    conv_call(dev, dir, bf16, x, w, b, dy, y, dx, dw, db);  // builds and caches the primitives / plans
    device_synchronize(dev);
    for (auto _ : st) {
      conv_call(dev, dir, bf16, x, w, b, dy, y, dx, dw, db);
      device_synchronize(dev);
    }
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
    return;
  }
  const double flops = 2.0 * N * H * W * s.cout * s.k * s.k * s.cin;
  // kIsRate divides by the (real) time: shown as "GFLOP=123.4/s"
  st.counters["GFLOP"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(st.iterations()),
                                            benchmark::Counter::kIsRate);
  st.counters["layers"] = s.count;
  st.SetItemsProcessed(st.iterations() * N);
  st.SetLabel(s.layers);
}

std::string bench_name(Device dev, Dir dir, const ConvShape& s) {
  return std::string("BM_Conv/") + device_name(dev) + "/" + dir_name(dir) + "/" + std::to_string(s.k) + "x" +
         std::to_string(s.k) + "/" + std::to_string(s.cin) + "->" + std::to_string(s.cout) + "@" +
         std::to_string(s.size);
}

// CUDA shapes are registered only when a device is visible (nothing to skip otherwise).
int register_all() {
  std::vector<Device> devices{Device::CPU};
  if (cuda_available()) devices.push_back(Device::CUDA);
  for (Device dev : devices)
    for (Dir dir : {Dir::Fwd, Dir::BwdData, Dir::BwdWeights})
      for (const ConvShape& s : unet_shapes()) {
        // The input image needs no gradient: training never runs enc_c1_a's backward-data.
        if (dir == Dir::BwdData && s.cin == 1) continue;
        for (bool bf16 : {false, true}) {
          if (bf16 && !(dev == Device::CPU && native_bf16(dev))) continue;
          benchmark::RegisterBenchmark((bench_name(dev, dir, s) + (bf16 ? "/bf16" : "")).c_str(), BM_Conv, dev, dir,
                                       bf16, s)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime()  // OpenMP / GPU work: the time that counts is the wall clock
              ->MeasureProcessCPUTime();  // CPU column: all threads (load-robust with 1 thread)
        }
      }
  return 0;
}
const int registered = register_all();

}  // namespace
