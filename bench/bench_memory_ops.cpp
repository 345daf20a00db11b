// Micro-benchmarks of the U-Net's memory-bound CPU kernels, at the ACDC fine-tuning batch
// (20 images of 192x192): batch_norm_relu in training (ops/batch_norm.h) and the 2x2 max pool
// (ops/spatial.h), forward and backward, one benchmark per distinct shape, on fp32 and on bf16
// activations (as a bf16 step on a CPU with bf16 kernels holds them).
//
//   contraseg_bench --benchmark_filter='BatchNormRelu|Maxpool'
//
// Name: BM_BatchNormRelu/<dir>/<C>@<size>[/bf16], BM_Maxpool/<dir>/<C>@<size>[/bf16] (size: the
// input's).
// Counters: GB/s, the bytes the kernel must move at least (each input read once, each output
// written once) over the wall time, to set against the machine's memory bandwidth; `layers`,
// how many layers of the U-Net have that shape. Kernels are called directly (no autograd).
// The backward kernels accumulate (beta = 1) where training does: a pooled map's gradient
// adds to the skip connection's.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "bench/bench_data.h"
#include "ops/batch_norm.h"
#include "ops/precision.h"
#include "ops/spatial.h"

namespace {

using namespace cs;

constexpr int64_t kBatch = 20;

struct MapShape {
  int64_t channels, size;
  int layers;
};

// The outputs of the U-Net's 28 conv + BN + ReLU units, by shape (docs/method.md §1.2-1.3).
const std::vector<MapShape> bn_shapes = {{16, 192, 6}, {32, 96, 5}, {64, 48, 5}, {128, 24, 5}, {128, 12, 5}, {128, 6, 2}};
// The encoder's five pooled maps.
const std::vector<MapShape> pool_shapes = {{16, 192, 1}, {32, 96, 1}, {64, 48, 1}, {128, 24, 1}, {128, 12, 1}};

void report(benchmark::State& st, double bytes, int layers) {
  st.counters["GB/s"] = benchmark::Counter(bytes * 1e-9 * static_cast<double>(st.iterations()),
                                           benchmark::Counter::kIsRate);
  st.counters["layers"] = layers;
}

// Forward: x -> y (x read, y written). Backward: x, dy -> dx, dgamma, dbeta (x, dy read, dx written).
void BM_BatchNormRelu(benchmark::State& st, bool backward, DType t, MapShape s) {
  const int64_t C = s.channels;
  const Shape shape{kBatch, s.size, s.size, C};
  const Tensor x = cast(bench::random_normal(shape, 1, 0.5f, 1.0f), t);
  const Tensor dy = cast(bench::random_normal(shape, 2, 0.5f, 1.0f), t);
  const Tensor gamma = Tensor::full({C}, 1.0f), beta = Tensor::full({C}, 0.1f);
  Tensor rm = Tensor::zeros({C}), rv = Tensor::full({C}, 1.0f);
  Tensor y = Tensor::empty(shape, Device::CPU, t), mean = Tensor::empty({C}), invstd = Tensor::empty({C});
  Tensor dx = Tensor::empty(shape, Device::CPU, t), dg = Tensor::empty({C}), db = Tensor::empty({C});
  cpu::batch_norm_forward_train(x, gamma, beta, true, y, mean, invstd, rm, rv, 0.99f, 1e-3f);
  for (auto _ : st) {
    if (backward && t == DType::BF16)
      cpu::batch_norm_backward_train(x, gamma, beta, true, mean, invstd, dy, dx.data_bf16(), 0.0f, dg.data(), 0.0f,
                                     db.data(), 0.0f);
    else if (backward)
      cpu::batch_norm_backward_train(x, gamma, beta, true, mean, invstd, dy, dx.data(), 0.0f, dg.data(), 0.0f,
                                     db.data(), 0.0f);
    else
      cpu::batch_norm_forward_train(x, gamma, beta, true, y, mean, invstd, rm, rv, 0.99f, 1e-3f);
  }
  report(st, (backward ? 3.0 : 2.0) * static_cast<double>(x.nbytes()), s.layers);
}

// Forward: x -> y (x read, y written). Backward: x, y, dy -> dx += (x, y, dy, dx read, dx written).
void BM_Maxpool(benchmark::State& st, bool backward, DType t, MapShape s) {
  const Shape shape{kBatch, s.size, s.size, s.channels};
  const Shape pooled{kBatch, (s.size + 1) / 2, (s.size + 1) / 2, s.channels};
  const Tensor x = cast(bench::random_normal(shape, 1, 0.5f, 1.0f), t);
  const Tensor dy = cast(bench::random_normal(pooled, 2, 0.5f, 1.0f), t);
  Tensor y = Tensor::empty(pooled, Device::CPU, t), dx = Tensor::empty(shape, Device::CPU, t);
  dx.zero_();
  cpu::maxpool2x2_forward(x, y);
  for (auto _ : st) {
    if (backward && t == DType::BF16) cpu::maxpool2x2_backward(x, y, dy, dx.data_bf16(), 1.0f);
    else if (backward) cpu::maxpool2x2_backward(x, y, dy, dx.data(), 1.0f);
    else cpu::maxpool2x2_forward(x, y);
  }
  const double n = static_cast<double>(x.nbytes()), m = static_cast<double>(y.nbytes());
  report(st, backward ? 3.0 * n + 2.0 * m : n + m, s.layers);
}

struct Suite {
  const char* name;
  void (*kernel)(benchmark::State&, bool, DType, MapShape);
  const std::vector<MapShape>* shapes;
};

int register_all() {
  const Suite suites[] = {{"BM_BatchNormRelu", BM_BatchNormRelu, &bn_shapes}, {"BM_Maxpool", BM_Maxpool, &pool_shapes}};
  for (bool backward : {false, true})
    for (const Suite& suite : suites)
      for (const MapShape& s : *suite.shapes)
        for (DType t : {DType::F32, DType::BF16}) {
          const std::string n = std::string(suite.name) + (backward ? "/bwd/" : "/fwd/") +
                                std::to_string(s.channels) + "@" + std::to_string(s.size) +
                                (t == DType::BF16 ? "/bf16" : "");
          benchmark::RegisterBenchmark(n.c_str(), suite.kernel, backward, t, s)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
  return 0;
}
const int registered = register_all();

}  // namespace
