// Micro-benchmarks of the contrastive similarity kernels (ops/similarity.h).
//
//   contraseg_bench --benchmark_filter=Similarity
//
// Counters: GFLOP/s counts the similarity dot products (2 * anchors * N * D per forward; the
// backward recomputes them and does two more GEMMs of the same size, 3x). "bound_ms" is a napkin
// lower bound: the same FLOPs at the rate this machine's plain SGEMM reaches on an N x N x D
// product (BM_SimilaritySgemmPeak), i.e. what a perfect fusion would cost if the exponentials
// were free. Fused vs unfused: the unfused path materialises S = Zn Zn^T / tau (N x N) with one
// GEMM, then reads it again for the masked log-sum-exp.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "autograd/cuda_runtime_api.h"
#include "autograd/device.h"
#include "autograd/tape.h"
#include "losses/global.h"
#include "losses/local.h"
#include "ops/similarity.h"

namespace {

using namespace cs;

Tensor random_z(int64_t n, int64_t d, Device dev, uint64_t seed = 1) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n * d);
  for (auto& x : v) x = nd(g);
  return Tensor::from_vector({n, d}, v, dev);
}

// The benchmarked specs: "paper" = reference G^D (48 rows); "local" = L^R on 20 maps of 48x48
// (340 region rows, 260 explicit terms); "gr" = G^R over N rows (all-others); "part" = paper G^D
// with N/8 volumes x 4 partitions (other-groups, 8 * N/8 - 1 positives per anchor, capped).
ContrastSpec make_spec(const std::string& kind, int64_t n) {
  if (kind == "paper") return global_contrast_spec(GlobalLossKind::GD, Compat::Reference, reference_gd_layout());
  if (kind == "local") {
    const LocalRegionTable t = local_region_table(region_grid(48, 3));
    return local_contrast_spec(LocalLossKind::LR, t, 20);
  }
  if (kind == "gr") return global_contrast_spec(GlobalLossKind::GR, Compat::Paper, random_pairs_layout(int(n / 2)));
  // partition batch: each row's positive is its other view only (G^D- of paper mode) to keep
  // the term count O(N); the negatives (3/4 of all rows) are what costs.
  return global_contrast_spec(GlobalLossKind::GDMinus, Compat::Paper, paper_partition_layout(int(n / 8), 4));
}

double dense_flops(const ContrastPlan& plan, int64_t d) {
  if (plan.rule() == NegativeRule::Explicit)
    return 2.0 * d * (plan.num_terms() + double(plan.spec().neg_index.size()));
  return 2.0 * double(plan.rows()) * plan.rows() * d;  // every row is an anchor in these specs
}

double g_sgemm_gflops = 0.0;  // measured by BM_SimilaritySgemmPeak (run first by name order)

void report(benchmark::State& st, double flops) {
  st.counters["GFLOP/s"] = benchmark::Counter(flops * st.iterations() / 1e9, benchmark::Counter::kIsRate);
  if (g_sgemm_gflops > 0) st.counters["bound_ms"] = flops / (g_sgemm_gflops * 1e9) * 1e3;
}

void run_fused(benchmark::State& st, const std::string& kind, Device dev, bool with_backward) {
  if (dev == Device::CUDA && !cuda_available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = st.range(0), d = st.range(1);
  ContrastPlan plan(make_spec(kind, n), dev);
  Tensor z = random_z(plan.rows(), d, dev);
  z.set_requires_grad(with_backward);
  for (auto _ : st) {
    Tensor loss = ntxent_loss(z, plan, 0.1f);
    if (with_backward) {
      z.zero_grad();
      backward(loss);
    }
    device_synchronize(dev);
    benchmark::DoNotOptimize(loss.data());
  }
  report(st, dense_flops(plan, d) * (with_backward ? 4.0 : 1.0));
  st.counters["rows"] = static_cast<double>(plan.rows());
  st.counters["terms"] = static_cast<double>(plan.num_terms());
}

void BM_SimilarityFusedCPU_Paper(benchmark::State& st) { run_fused(st, "paper", Device::CPU, false); }
void BM_SimilarityFusedCPU_PaperFwdBwd(benchmark::State& st) { run_fused(st, "paper", Device::CPU, true); }
void BM_SimilarityFusedCPU_Local(benchmark::State& st) { run_fused(st, "local", Device::CPU, false); }
void BM_SimilarityFusedCPU_LocalFwdBwd(benchmark::State& st) { run_fused(st, "local", Device::CPU, true); }
void BM_SimilarityFusedCPU_GR(benchmark::State& st) { run_fused(st, "gr", Device::CPU, false); }
void BM_SimilarityFusedCPU_GRFwdBwd(benchmark::State& st) { run_fused(st, "gr", Device::CPU, true); }
void BM_SimilarityFusedCPU_Partitions(benchmark::State& st) { run_fused(st, "part", Device::CPU, false); }

// Unfused: S = Zn Zn^T / tau stored (cosine_similarity), then a separate masked log-sum-exp
// pass over S for every row (all-others rule, as G^R).
void BM_SimilarityUnfusedCPU_GR(benchmark::State& st) {
  const int64_t n = st.range(0), d = st.range(1);
  Tensor z = random_z(n, d, Device::CPU);
  std::vector<float> lse(n);
  NoGradGuard ng;
  for (auto _ : st) {
    Tensor s = cosine_similarity(z, 0.1f);
    const float* S = s.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float* row = S + i * n;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j)
        if (j != i) m = std::max(m, row[j]);
      float sum = 0.0f;
      for (int64_t j = 0; j < n; ++j)
        if (j != i) sum += std::exp(row[j] - m);
      lse[i] = m + std::log(sum);
    }
    benchmark::DoNotOptimize(lse.data());
  }
  report(st, 2.0 * n * n * d);
  st.counters["S_MiB"] = double(n) * n * 4 / (1 << 20);
}

// The napkin bound's rate: one plain SGEMM of the similarity's shape.
void BM_SimilaritySgemmPeak(benchmark::State& st) {
  const int64_t n = st.range(0), d = st.range(1);
  Tensor z = random_z(n, d, Device::CPU);
  std::vector<float> s(n * n);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, 1.0f, z.data(), d, z.data(), d, 0.0f, s.data(), n);
    benchmark::DoNotOptimize(s.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double flops = 2.0 * n * n * d;
  st.counters["GFLOP/s"] = benchmark::Counter(flops * st.iterations() / 1e9, benchmark::Counter::kIsRate);
  if (secs > 0) g_sgemm_gflops = flops * st.iterations() / secs / 1e9;
}

void BM_SimilarityFusedCUDA_Paper(benchmark::State& st) { run_fused(st, "paper", Device::CUDA, false); }
void BM_SimilarityFusedCUDA_PaperFwdBwd(benchmark::State& st) { run_fused(st, "paper", Device::CUDA, true); }
void BM_SimilarityFusedCUDA_Local(benchmark::State& st) { run_fused(st, "local", Device::CUDA, false); }
void BM_SimilarityFusedCUDA_GR(benchmark::State& st) { run_fused(st, "gr", Device::CUDA, false); }
void BM_SimilarityFusedCUDA_GRFwdBwd(benchmark::State& st) { run_fused(st, "gr", Device::CUDA, true); }

// Registered at start-up; CUDA ones only when a device is visible.
int register_all() {
  auto peak = benchmark::RegisterBenchmark("BM_SimilaritySgemmPeak", BM_SimilaritySgemmPeak)->Args({4096, 128});
  peak->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_Paper", BM_SimilarityFusedCPU_Paper)->Args({48, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_PaperFwdBwd", BM_SimilarityFusedCPU_PaperFwdBwd)->Args({48, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_Local", BM_SimilarityFusedCPU_Local)->Args({340, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_LocalFwdBwd", BM_SimilarityFusedCPU_LocalFwdBwd)->Args({340, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
  for (int64_t n : {4096, 8192}) {
    benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_GR", BM_SimilarityFusedCPU_GR)->Args({n, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark("BM_SimilarityUnfusedCPU_GR", BM_SimilarityUnfusedCPU_GR)->Args({n, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_Partitions", BM_SimilarityFusedCPU_Partitions)->Args({n, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_SimilarityFusedCPU_GRFwdBwd", BM_SimilarityFusedCPU_GRFwdBwd)->Args({4096, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
  if (cuda_available()) {
    benchmark::RegisterBenchmark("BM_SimilarityFusedCUDA_Paper", BM_SimilarityFusedCUDA_Paper)->Args({48, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark("BM_SimilarityFusedCUDA_PaperFwdBwd", BM_SimilarityFusedCUDA_PaperFwdBwd)->Args({48, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark("BM_SimilarityFusedCUDA_Local", BM_SimilarityFusedCUDA_Local)->Args({340, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
    for (int64_t n : {4096, 8192, 32768}) {
      benchmark::RegisterBenchmark("BM_SimilarityFusedCUDA_GR", BM_SimilarityFusedCUDA_GR)->Args({n, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
      benchmark::RegisterBenchmark("BM_SimilarityFusedCUDA_GRFwdBwd", BM_SimilarityFusedCUDA_GRFwdBwd)->Args({n, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

