// cuDNN convolution plans: descriptor set-up, the per-shape cache and algorithm selection.
#include "ops/cuda/conv_plan.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace cs::cuda {
namespace {

bool env_tf32() {
  const char* v = std::getenv("CONTRASEG_TF32");
  return v && (std::strcmp(v, "1") == 0 || std::strcmp(v, "true") == 0 || std::strcmp(v, "on") == 0);
}

bool& tf32_flag() {
  static bool allow = env_tf32();
  return allow;
}

// Atomic: every stage sets it, and fine-tuning runs side by side (CPU runs) open their stages
// on several threads at once.
std::atomic<bool>& deterministic_flag() {
  static std::atomic<bool> on{false};
  return on;
}

bool use_find() {
  static const bool find = [] {
    const char* v = std::getenv("CONTRASEG_CONV_ALGO");
    return !(v && std::strcmp(v, "heuristic") == 0);
  }();
  return find;
}

int checked_int(int64_t v, const char* what, const Tensor& x, const Tensor& w) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string("conv2d (cuda): ") + what + " out of range for cuDNN (x " +
                                shape_str(x.shape()) + ", w " + shape_str(w.shape()) + ")");
  return static_cast<int>(v);
}

// The math type an algorithm runs with: plain FMA unless TF32 is allowed, and never one that
// converts FP32 data down to half precision.
cudnnMathType_t math_for(bool tf32, cudnnMathType_t chosen) {
  if (!tf32) return CUDNN_FMA_MATH;
  return chosen == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ? CUDNN_DEFAULT_MATH : chosen;
}

cudnnConvolutionDescriptor_t make_conv_desc(const ConvPlan& p) {
  cudnnConvolutionDescriptor_t d;
  cudnn_check(cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
  cudnn_check(cudnnSetConvolution2dDescriptor(d, p.pad_h, p.pad_w, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT),
              "cudnnSetConvolution2dDescriptor");
  cudnn_check(cudnnSetConvolutionMathType(d, p.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
              "cudnnSetConvolutionMathType");
  return d;
}

void build(ConvPlan& p) {
  // TF SAME, stride 1: pad_before = (k-1)/2, pad_after = k-1-pad_before >= pad_before.
  const int before_h = (p.KH - 1) / 2, before_w = (p.KW - 1) / 2;
  p.pad_h = p.KH - 1 - before_h;
  p.pad_w = p.KW - 1 - before_w;
  p.off_h = p.pad_h - before_h;
  p.off_w = p.pad_w - before_w;
  p.OH = p.H + 2 * p.pad_h - p.KH + 1;
  p.OW = p.W + 2 * p.pad_w - p.KW + 1;

  cudnn_check(cudnnCreateTensorDescriptor(&p.x_desc), "cudnnCreateTensorDescriptor");
  cudnn_check(cudnnSetTensor4dDescriptor(p.x_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, p.N, p.Cin, p.H, p.W),
              "cudnnSetTensor4dDescriptor(x)");
  cudnn_check(cudnnCreateTensorDescriptor(&p.y_desc), "cudnnCreateTensorDescriptor");
  cudnn_check(
      cudnnSetTensor4dDescriptor(p.y_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, p.N, p.Cout, p.OH, p.OW),
      "cudnnSetTensor4dDescriptor(y)");
  cudnn_check(cudnnCreateFilterDescriptor(&p.w_desc), "cudnnCreateFilterDescriptor");
  cudnn_check(
      cudnnSetFilter4dDescriptor(p.w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, p.Cout, p.Cin, p.KH, p.KW),
      "cudnnSetFilter4dDescriptor(w)");
  p.fwd_desc = make_conv_desc(p);
  p.bwd_data_desc = make_conv_desc(p);
  p.bwd_filter_desc = make_conv_desc(p);

  int n = 0, c = 0, h = 0, w = 0;
  cudnn_check(cudnnGetConvolution2dForwardOutputDim(p.fwd_desc, p.x_desc, p.w_desc, &n, &c, &h, &w),
              "cudnnGetConvolution2dForwardOutputDim");
  if (n != p.N || c != p.Cout || h != p.OH || w != p.OW)
    throw std::logic_error("conv2d (cuda): cuDNN output dims disagree with the plan");
}

// Raw device memory for algorithm search only. It bypasses the caching allocator on purpose:
// these one-off sizes would otherwise stay cached for the life of the process.
class SearchBuffer {
 public:
  explicit SearchBuffer(size_t bytes) {
    if (bytes && cudaMalloc(&p_, bytes) != cudaSuccess) {
      cudaGetLastError();
      p_ = nullptr;
    }
  }
  ~SearchBuffer() {
    if (p_) cudaFree(p_);
  }
  SearchBuffer(const SearchBuffer&) = delete;
  SearchBuffer& operator=(const SearchBuffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

// Workspace offered to the timed search: enough for every algorithm the heuristics support,
// within a quarter of the free memory and 1 GiB.
template <typename Perf>
size_t search_workspace(const std::vector<Perf>& heur) {
  size_t need = 0;
  for (const Perf& r : heur)
    if (r.status == CUDNN_STATUS_SUCCESS) need = std::max(need, r.memory);
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    cudaGetLastError();
    free_b = 0;
  }
  return std::min({need, free_b / 4, size_t(1) << 30});
}

template <typename Perf, typename Pred>
const Perf* first_where(const std::vector<Perf>& r, Pred ok) {
  for (const Perf& x : r)
    if (ok(x)) return &x;
  return nullptr;
}

bool tensor_op(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

std::string math_name(cudnnMathType_t m) {
  if (tensor_op(m)) return "tensor-op math (TF32)";
  if (m == CUDNN_FMA_MATH) return "FMA math";
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
    cudaGetLastError();
  return major >= 8 ? "cuDNN's default math (TF32 possible on this GPU)" : "cuDNN's default math (no TF32 on this GPU)";
}

// The common selection of one direction, whose descriptor is `desc`: heuristics first (cheap,
// always available), then an optional timed search whose fastest successful result wins. A
// deterministic plan takes only deterministic algorithms, by cuDNN's heuristic ranking: a timed
// search may pick another algorithm on each run, and another algorithm rounds differently.
// Without TF32 the descriptor asks for FMA math; where cuDNN has no FMA algorithm for this
// direction, the heuristics are asked again under cuDNN's default math, an algorithm that is not
// a tensor-op one preferred, and the choice is said on stderr. Leaves desc with the chosen
// algorithm's math type. `find` returns the results or an empty list.
template <typename Perf, typename Heur, typename Find>
Perf select(const ConvPlan& p, cudnnConvolutionDescriptor_t desc, const char* what, Heur heur_fn, Find find_fn) {
  auto ok = [&](const Perf& r) {
    return r.status == CUDNN_STATUS_SUCCESS && (!p.deterministic || r.determinism == CUDNN_DETERMINISTIC);
  };
  std::vector<Perf> heur = heur_fn();
  std::vector<Perf> found;
  const Perf* best = nullptr;
  if (use_find() && !p.deterministic) {
    const size_t ws = search_workspace(heur);
    found = find_fn(ws);
    best = first_where(found, [&](const Perf& r) { return ok(r) && r.memory <= ws; });  // sorted fastest first
  }
  if (!best) best = first_where(heur, ok);
  const bool fallback = !best && !p.tf32;
  if (fallback) {
    cudnn_check(cudnnSetConvolutionMathType(desc, CUDNN_DEFAULT_MATH), "cudnnSetConvolutionMathType");
    heur = heur_fn();
    best = first_where(heur, [&](const Perf& r) { return ok(r) && !tensor_op(r.mathType); });
    if (!best) best = first_where(heur, ok);
  }
  const std::string shapes = "x " + shape_str({p.N, p.H, p.W, p.Cin}) + " w " + shape_str({p.Cout, p.KH, p.KW, p.Cin});
  const char* kind = p.deterministic ? "deterministic " : "";
  if (!best)
    throw std::runtime_error(std::string("conv2d (cuda): cuDNN offers no ") + kind + "algorithm for " + what + " of " +
                             shapes);
  const Perf chosen = *best;
  const cudnnMathType_t math = math_for(p.tf32 || fallback, chosen.mathType);
  cudnn_check(cudnnSetConvolutionMathType(desc, math), "cudnnSetConvolutionMathType");
  if (fallback)
    std::fprintf(stderr, "conv2d (cuda): no %sFMA-only algorithm for %s of %s: using algorithm %d with %s\n", kind,
                 what, shapes.c_str(), static_cast<int>(chosen.algo), math_name(math).c_str());
  return chosen;
}

size_t bytes_y(const ConvPlan& p) { return sizeof(float) * size_t(p.N) * p.OH * p.OW * p.Cout; }
size_t bytes_x(const ConvPlan& p) { return sizeof(float) * size_t(p.N) * p.H * p.W * p.Cin; }
size_t bytes_w(const ConvPlan& p) { return sizeof(float) * size_t(p.Cout) * p.KH * p.KW * p.Cin; }

}  // namespace

void set_conv_tf32(bool allow) { tf32_flag() = allow; }
bool conv_tf32() { return tf32_flag(); }
void set_conv_deterministic(bool on) { deterministic_flag() = on; }
bool conv_deterministic() { return deterministic_flag(); }

ConvPlan& conv_plan(const Tensor& x, const Tensor& w) {
  // Shapes are checked by conv2d (ops/conv2d.cpp); what is left are the limits of cuDNN's API.
  if (x.numel() > INT_MAX)
    throw std::invalid_argument("conv2d (cuda): x " + shape_str(x.shape()) +
                                " has more elements than cuDNN's legacy API takes");
  std::array<int, 9> key{};
  for (int i = 0; i < 4; ++i) key[i] = checked_int(x.dim(i), "input dimension", x, w);
  for (int i = 0; i < 3; ++i) key[4 + i] = checked_int(w.dim(i), "weight dimension", x, w);
  key[7] = conv_tf32() ? 1 : 0;
  key[8] = conv_deterministic() ? 1 : 0;
  if (key[4] == 0 || key[5] == 0 || key[6] == 0 || key[0] == 0 || key[1] == 0 || key[2] == 0 || key[3] == 0)
    throw std::invalid_argument("conv2d (cuda): empty x " + shape_str(x.shape()) + " or w " +
                                shape_str(w.shape()));

  static std::mutex mu;
  // Plans (and their descriptors) are never destroyed: cuDNN may already be torn down when
  // static destructors run.
  static auto* plans = new std::map<std::array<int, 9>, std::unique_ptr<ConvPlan>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = plans->find(key);
  if (it != plans->end()) return *it->second;
  auto p = std::make_unique<ConvPlan>();
  p->N = key[0], p->H = key[1], p->W = key[2], p->Cin = key[3];
  p->Cout = key[4], p->KH = key[5], p->KW = key[6], p->tf32 = key[7] != 0, p->deterministic = key[8] != 0;
  build(*p);
  if (static_cast<int64_t>(p->N) * p->OH * p->OW * p->Cout > INT_MAX)
    throw std::invalid_argument("conv2d (cuda): output of x " + shape_str(x.shape()) + " and w " +
                                shape_str(w.shape()) + " has more elements than cuDNN's legacy API takes");
  ConvPlan& ref = *p;
  plans->emplace(key, std::move(p));
  return ref;
}

void choose_forward(ConvPlan& p, const float* x, const float* w) {
  if (p.fwd_ready) return;
  cudnnHandle_t h = cudnn_handle();
  int max_count = 0;
  cudnn_check(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count),
              "cudnnGetConvolutionForwardAlgorithmMaxCount");
  max_count = std::max(max_count, 1);
  auto heur = [&] {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> r(max_count);
    int n = 0;
    cudnn_check(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x_desc, p.w_desc, p.fwd_desc, p.y_desc, max_count,
                                                       &n, r.data()),
                "cudnnGetConvolutionForwardAlgorithm_v7");
    r.resize(n);
    return r;
  };
  auto find = [&](size_t ws) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> r(max_count);
    int n = 0;
    SearchBuffer out(bytes_y(p)), work(ws);
    if (!out.get() || (ws && !work.get())) return std::vector<cudnnConvolutionFwdAlgoPerf_t>();
    const cudnnStatus_t st =
        cudnnFindConvolutionForwardAlgorithmEx(h, p.x_desc, x, p.w_desc, w, p.fwd_desc, p.y_desc, out.get(),
                                               max_count, &n, r.data(), work.get(), ws);
    if (st != CUDNN_STATUS_SUCCESS) {  // not fatal: the heuristic choice is used instead
      cudaGetLastError();
      return decltype(r)();
    }
    r.resize(n);
    return r;
  };
  const auto best = select<cudnnConvolutionFwdAlgoPerf_t>(p, p.fwd_desc, "the forward pass", heur, find);
  size_t ws = 0;
  cudnn_check(
      cudnnGetConvolutionForwardWorkspaceSize(h, p.x_desc, p.w_desc, p.fwd_desc, p.y_desc, best.algo, &ws),
      "cudnnGetConvolutionForwardWorkspaceSize");
  p.fwd_algo = best.algo;
  p.fwd_ws = std::max(ws, best.memory);
  p.fwd_ready = true;
}

void choose_backward_data(ConvPlan& p, const float* w, const float* dy) {
  if (p.bwd_data_ready) return;
  cudnnHandle_t h = cudnn_handle();
  int max_count = 0;
  cudnn_check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count),
              "cudnnGetConvolutionBackwardDataAlgorithmMaxCount");
  max_count = std::max(max_count, 1);
  auto heur = [&] {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> r(max_count);
    int n = 0;
    cudnn_check(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w_desc, p.y_desc, p.bwd_data_desc, p.x_desc,
                                                            max_count, &n, r.data()),
                "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    r.resize(n);
    return r;
  };
  auto find = [&](size_t ws) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> r(max_count);
    int n = 0;
    SearchBuffer out(bytes_x(p)), work(ws);
    if (!out.get() || (ws && !work.get())) return std::vector<cudnnConvolutionBwdDataAlgoPerf_t>();
    const cudnnStatus_t st =
        cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w_desc, w, p.y_desc, dy, p.bwd_data_desc, p.x_desc,
                                                    out.get(), max_count, &n, r.data(), work.get(), ws);
    if (st != CUDNN_STATUS_SUCCESS) {  // not fatal: the heuristic choice is used instead
      cudaGetLastError();
      return decltype(r)();
    }
    r.resize(n);
    return r;
  };
  const auto best = select<cudnnConvolutionBwdDataAlgoPerf_t>(p, p.bwd_data_desc, "the input gradient", heur, find);
  size_t ws = 0;
  cudnn_check(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w_desc, p.y_desc, p.bwd_data_desc, p.x_desc,
                                                           best.algo, &ws),
              "cudnnGetConvolutionBackwardDataWorkspaceSize");
  p.bwd_data_algo = best.algo;
  p.bwd_data_ws = std::max(ws, best.memory);
  p.bwd_data_ready = true;
}

void choose_backward_filter(ConvPlan& p, const float* x, const float* dy) {
  if (p.bwd_filter_ready) return;
  cudnnHandle_t h = cudnn_handle();
  int max_count = 0;
  cudnn_check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count),
              "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount");
  max_count = std::max(max_count, 1);
  auto heur = [&] {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> r(max_count);
    int n = 0;
    cudnn_check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x_desc, p.y_desc, p.bwd_filter_desc,
                                                              p.w_desc, max_count, &n, r.data()),
                "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    r.resize(n);
    return r;
  };
  auto find = [&](size_t ws) {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> r(max_count);
    int n = 0;
    SearchBuffer out(bytes_w(p)), work(ws);
    if (!out.get() || (ws && !work.get())) return std::vector<cudnnConvolutionBwdFilterAlgoPerf_t>();
    const cudnnStatus_t st = cudnnFindConvolutionBackwardFilterAlgorithmEx(
        h, p.x_desc, x, p.y_desc, dy, p.bwd_filter_desc, p.w_desc, out.get(), max_count, &n, r.data(),
        work.get(), ws);
    if (st != CUDNN_STATUS_SUCCESS) {  // not fatal: the heuristic choice is used instead
      cudaGetLastError();
      return decltype(r)();
    }
    r.resize(n);
    return r;
  };
  const auto best = select<cudnnConvolutionBwdFilterAlgoPerf_t>(p, p.bwd_filter_desc, "the weight gradient", heur, find);
  size_t ws = 0;
  cudnn_check(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x_desc, p.y_desc, p.bwd_filter_desc,
                                                             p.w_desc, best.algo, &ws),
              "cudnnGetConvolutionBackwardFilterWorkspaceSize");
  p.bwd_filter_algo = best.algo;
  p.bwd_filter_ws = std::max(ws, best.memory);
  p.bwd_filter_ready = true;
}

}  // namespace cs::cuda
