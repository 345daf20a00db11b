// CPU conv2d through oneDNN, activations in NHWC (oneDNN runs channels-last faster than NCHW,
// and far faster than im2col + BLAS, on the shapes of the UNet: docs/performance-cpu.md).
//
// Stride 1, TF SAME padding: pad_before = (k-1)/2, pad_after = k-1-pad_before per spatial axis;
// oneDNN takes separate left/right padding, so the 2x2 kernel's bottom/right-only padding is
// exact. Weights stay OHWI in our tensors; the primitives pick their own weight layout
// (format "any", usually blocked) and we reorder the small weight tensors at each call.
//
// Primitive descriptors and primitives are built once per problem shape and thread, and cached,
// so a training step only executes primitives. The cache is per thread because a plan's buffers
// are written by each execution and a primitive is built for its creator's OpenMP thread count:
// reproduce's workers run convolutions of the same shapes side by side, each on its own threads.
//
// The bf16 kernels (conv2d_forward_bf16, conv2d_backward_bf16: ops/precision.h) run the same
// primitives on bf16 operands, accumulating in fp32. bf16 activations (x, y, dy, dx) are read
// and written in place; fp32 ones are reordered to bf16 on the way in (one pass each) and
// written as fp32. The weights go to bf16 in the same reorder that blocks them; dw and db are
// fp32.
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/cpu/common.h"
#include "ops/conv2d.h"
#include "ops/precision.h"

namespace cs::cpu {


namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;
constexpr auto bf16 = memory::data_type::bf16;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// A weight tensor in a primitive's preferred layout, with the reorder that fills it from (or
// empties it into) OHWI. `mem` stays empty when the preferred layout is OHWI itself.
struct WeightBuffer {
  memory mem;
  std::optional<dnnl::reorder> reorder;

  void init(const memory::desc& preferred, const memory::desc& ohwi, bool from_ohwi) {
    if (preferred == ohwi) return;
    mem = memory(preferred, engine());
    reorder = from_ohwi ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), ohwi, engine(), preferred))
                        : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), preferred, engine(), ohwi));
  }
};

// An NHWC tensor as the primitives read it: wrapped in place, or (an fp32 tensor read as bf16)
// reordered into a bf16 buffer of the plan.
struct Operand {
  memory::desc md;  // what the primitives read
  memory buf;       // reordered operands only
  std::optional<dnnl::reorder> from_f32;

  void init(const memory::desc& user_md, bool as_bf16) {
    if (!as_bf16 || user_md.data_type() == bf16) {
      md = user_md;
      return;
    }
    md = memory::desc(user_md.dims(), bf16, tag::nhwc);
    buf = memory(md, engine());
    from_f32 = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), user_md, engine(), md));
  }
};

// Everything oneDNN needs for one problem shape [N,H,W,Cin] * [Cout,KH,KW,Cin] in one precision
// with one activation type.
struct ConvPlan {
  memory::desc x_md, y_md, w_md, b_md;  // as our tensors hold them: activations fp32 or bf16
  memory::data_type wt;                 // the weights' type in the forward and backward-data primitives
  Operand x_op, dy_op;                  // x and dy as the primitives read them
  memory::dims strides, pad_l, pad_r;

  struct Fwd {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    WeightBuffer w;
  };
  struct BwdData {
    dnnl::convolution_backward_data::primitive_desc pd;
    dnnl::convolution_backward_data prim;
    WeightBuffer w;
  };
  struct BwdWeights {
    dnnl::convolution_backward_weights::primitive_desc pd;
    dnnl::convolution_backward_weights prim;
    WeightBuffer dw;
  };
  std::optional<Fwd> fwd[2];  // [has bias]
  std::optional<BwdData> bwd_data;
  std::optional<BwdWeights> bwd_weights[2];  // [computes the bias gradient]

  ConvPlan(int64_t N, int64_t H, int64_t W, int64_t Cin, int64_t Cout, int64_t KH, int64_t KW, bool bf16_ops,
           bool bf16_activations)
      : wt(bf16_ops ? bf16 : f32) {
    const auto at = bf16_activations ? bf16 : f32;
    x_md = memory::desc({N, Cin, H, W}, at, tag::nhwc);  // dims are always given as N,C,H,W
    y_md = memory::desc({N, Cout, H, W}, at, tag::nhwc);
    w_md = memory::desc({Cout, Cin, KH, KW}, f32, tag::ohwi);
    b_md = memory::desc({Cout}, f32, tag::x);
    x_op.init(x_md, bf16_ops);
    dy_op.init(y_md, bf16_ops);
    strides = {1, 1};
    pad_l = {(KH - 1) / 2, (KW - 1) / 2};
    pad_r = {KH - 1 - pad_l[0], KW - 1 - pad_l[1]};
  }

  Fwd& forward(bool bias) {
    auto& f = fwd[bias];
    if (!f) {
      const memory::desc w_any(w_md.dims(), wt, tag::any);
      auto d = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                       dnnl::algorithm::convolution_direct, x_op.md,
                                                       w_any, b_md, y_md, strides, pad_l, pad_r)
                    : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                       dnnl::algorithm::convolution_direct, x_op.md,
                                                       w_any, y_md, strides, pad_l, pad_r);
      dnnl::convolution_forward::primitive_desc pd(d, engine());
      f.emplace(Fwd{pd, dnnl::convolution_forward(pd), {}});
      f->w.init(pd.weights_desc(), w_md, true);
    }
    return *f;
  }

  BwdData& backward_data() {
    if (!bwd_data) {
      const memory::desc w_any(w_md.dims(), wt, tag::any);
      dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, x_md, w_any, dy_op.md,
                                              strides, pad_l, pad_r);
      dnnl::convolution_backward_data::primitive_desc pd(d, engine(), forward(false).pd);
      bwd_data.emplace(BwdData{pd, dnnl::convolution_backward_data(pd), {}});
      bwd_data->w.init(pd.weights_desc(), w_md, true);
    }
    return *bwd_data;
  }

  BwdWeights& backward_weights(bool bias) {
    auto& b = bwd_weights[bias];
    if (!b) {
      const memory::desc w_any(w_md.dims(), f32, tag::any);
      auto d = bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                               x_op.md, w_any, b_md, dy_op.md, strides,
                                                               pad_l, pad_r)
                    : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                               x_op.md, w_any, dy_op.md, strides, pad_l,
                                                               pad_r);
      dnnl::convolution_backward_weights::primitive_desc pd(d, engine(), forward(bias).pd);
      b.emplace(BwdWeights{pd, dnnl::convolution_backward_weights(pd), {}});
      b->dw.init(pd.diff_weights_desc(), w_md, false);
    }
    return *b;
  }
};

using PlanKey = std::array<int64_t, 9>;  // N, H, W, Cin, Cout, KH, KW, bf16 operands, bf16 activations

std::shared_ptr<ConvPlan> plan_for(const Tensor& x, const Tensor& w, bool bf16_operands) {
  thread_local std::map<PlanKey, std::shared_ptr<ConvPlan>> plans;
  const bool bf16_activations = x.dtype() == DType::BF16;
  const PlanKey key{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(1), w.dim(2), bf16_operands,
                    bf16_activations};
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  // Shapes are few in practice (one per layer and batch size); bound the cache anyway.
  if (plans.size() >= 512) plans.clear();
  auto p = std::make_shared<ConvPlan>(key[0], key[1], key[2], key[3], key[4], key[5], key[6], bf16_operands,
                                      bf16_activations);
  plans.emplace(key, p);
  return p;
}

memory wrap(const memory::desc& md, const void* p) { return memory(md, engine(), const_cast<void*>(p)); }

// The OHWI weights as the primitive wants them: reordered into its buffer, or used in place.
memory weights_for(WeightBuffer& buf, const memory::desc& w_md, const Tensor& w, dnnl::stream& s) {
  memory user = wrap(w_md, w.data());
  if (!buf.reorder) return user;
  buf.reorder->execute(s, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, buf.mem}});
  return buf.mem;
}

// The tensor t [N,H,W,C] as the primitives read it: in place, or after its reorder to bf16.
memory operand(Operand& op, const memory::desc& user_md, const Tensor& t, dnnl::stream& s) {
  memory user = wrap(user_md, t.raw());
  if (!op.from_f32) return user;
  op.from_f32->execute(s, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, op.buf}});
  return op.buf;
}

std::string problem(const Tensor& x, const Tensor& w, bool bf16_operands) {
  return "x " + std::string(dtype_name(x.dtype())) + " " + shape_str(x.shape()) + ", w " + shape_str(w.shape()) +
         (bf16_operands ? ", bf16 operands" : "");
}

// x [N,H,W,Cin], w [Cout,KH,KW,Cin], b [Cout] or undefined -> y [N,H,W,Cout]
void forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, bool bf16_operands) {
  if (y.numel() == 0) return;
  try {
    auto plan = plan_for(x, w, bf16_operands);
    auto& f = plan->forward(b.defined());
    dnnl::stream& s = stream();
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, operand(plan->x_op, plan->x_md, x, s)},
                                         {DNNL_ARG_WEIGHTS, weights_for(f.w, plan->w_md, w, s)},
                                         {DNNL_ARG_DST, wrap(plan->y_md, y.raw())}};
    if (b.defined()) args.emplace(DNNL_ARG_BIAS, wrap(plan->b_md, b.data()));
    f.prim.execute(s, args);
    s.wait();
  } catch (const dnnl::error& e) {
    throw std::runtime_error("cpu::conv2d_forward (oneDNN) failed for " + problem(x, w, bf16_operands) + ": " +
                             e.what());
  }
}

// dy [N,H,W,Cout] -> dx [N,H,W,Cin] (x's type), dw [Cout,KH,KW,Cin], db [Cout]; each optional,
// with beta. oneDNN overwrites its outputs, so beta = 1 goes through a scratch buffer and an add.
void backward(const Tensor& x, const Tensor& w, const Tensor& dy, void* dx, float beta_dx, float* dw,
              float beta_dw, float* db, float beta_db, bool bf16_operands) {
  const int64_t Cout = w.dim(0);
  if (!dx && !dw && !db) return;
  if (dy.numel() == 0 || x.numel() == 0) {  // nothing flows; the weight gradients get 0
    if (dw)
      for (int64_t i = 0; i < w.numel(); ++i) detail::store(dw + i, 0.0f, beta_dw);
    if (db)
      for (int64_t i = 0; i < Cout; ++i) detail::store(db + i, 0.0f, beta_db);
    return;
  }
  try {
    auto plan = plan_for(x, w, bf16_operands);
    dnnl::stream& s = stream();
    memory dy_m = operand(plan->dy_op, plan->y_md, dy, s);

    if (dx) {
      auto& bd = plan->backward_data();
      Tensor scratch;
      void* target = dx;
      if (beta_dx != 0.0f) {
        scratch = Tensor::empty(x.shape(), Device::CPU, x.dtype());
        target = scratch.raw();
      }
      bd.prim.execute(s, {{DNNL_ARG_DIFF_DST, dy_m},
                          {DNNL_ARG_WEIGHTS, weights_for(bd.w, plan->w_md, w, s)},
                          {DNNL_ARG_DIFF_SRC, wrap(plan->x_md, target)}});
      s.wait();
      if (target != dx) convert(target, x.dtype(), dx, x.dtype(), x.numel(), beta_dx);
    }

    if (dw || db) {
      // The bias gradient comes with the weight gradient at no extra pass; a lone bias
      // gradient (frozen weights) is rare enough to take the same route.
      auto& bw = plan->backward_weights(db != nullptr);
      std::vector<float> dw_tmp, db_tmp;
      memory dw_m;
      float* dw_target = dw;
      if (!dw || beta_dw != 0.0f) {
        dw_tmp.resize(w.numel());
        dw_target = dw_tmp.data();
      }
      dw_m = bw.dw.reorder ? bw.dw.mem : wrap(plan->w_md, dw_target);
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, operand(plan->x_op, plan->x_md, x, s)},
                                           {DNNL_ARG_DIFF_DST, dy_m},
                                           {DNNL_ARG_DIFF_WEIGHTS, dw_m}};
      float* db_target = db;
      if (db) {
        if (beta_db != 0.0f) {
          db_tmp.resize(Cout);
          db_target = db_tmp.data();
        }
        args.emplace(DNNL_ARG_DIFF_BIAS, wrap(plan->b_md, db_target));
      }
      bw.prim.execute(s, args);
      if (dw && bw.dw.reorder)
        bw.dw.reorder->execute(s, {{DNNL_ARG_FROM, bw.dw.mem}, {DNNL_ARG_TO, wrap(plan->w_md, dw_target)}});
      s.wait();
      if (dw && dw_target != dw) convert(dw_target, DType::F32, dw, DType::F32, w.numel(), beta_dw);
      if (db && db_target != db) convert(db_target, DType::F32, db, DType::F32, Cout, beta_db);
    }
  } catch (const dnnl::error& e) {
    throw std::runtime_error("cpu::conv2d_backward (oneDNN) failed for " + problem(x, w, bf16_operands) + ": " +
                             e.what());
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) { forward(x, w, b, y, false); }

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx, float* dw,
                     float beta_dw, float* db, float beta_db) {
  backward(x, w, dy, dx, beta_dx, dw, beta_dw, db, beta_db, false);
}

void conv2d_forward_bf16(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  forward(x, w, b, y, true);
}

void conv2d_backward_bf16(const Tensor& x, const Tensor& w, const Tensor& dy, void* dx, float beta_dx, float* dw,
                          float beta_dw, float* db, float beta_db) {
  backward(x, w, dy, dx, beta_dx, dw, beta_dw, db, beta_db, true);
}

}  // namespace cs::cpu
