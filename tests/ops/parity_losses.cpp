// CUDA parity cases (parity_table.h) of the losses, against the CPU ones (which tests/losses checks
// against double references): the global losses' term lists, the local loss end to end, the
// segmentation losses. Also the optimiser's (nn/adam.h; its CPU update is checked by hand in
// tests/nn/test_adam.cpp), the other part above ops that has a CUDA kernel.
#include <memory>
#include <string>

#include "losses/global.h"
#include "losses/local.h"
#include "losses/segmentation.h"
#include "nn/adam.h"
#include "nn/params.h"
#include "ops/pointwise.h"
#include "parity_table.h"

namespace cs::cudatest {

// The term lists the global losses build (the similarity kernels on their own are the
// CudaSimilarity rows).
Cases global_loss_cases() {
  const auto spec = [](GlobalLossKind kind, Compat mode, const SlotLayout& layout) {
    return global_contrast_spec(kind, mode, layout);
  };
  Cases all;
  for (Cases part : {
           // Fused one-block forward (rows <= 64), the paper's 48 x 128.
           ntxent_cases(spec(GlobalLossKind::GD, Compat::Reference, reference_gd_layout()), 128, 0.1f,
                        "reference G^D"),
           ntxent_cases(spec(GlobalLossKind::GD, Compat::Paper, paper_partition_layout(6, 4)), 128, 0.1f,
                        "paper G^D"),
           ntxent_cases(spec(GlobalLossKind::GR, Compat::Paper, random_pairs_layout(500)), 128, 0.1f,
                        "G^R 1000 rows"),
           ntxent_cases(spec(GlobalLossKind::GD, Compat::Reference, reference_gd_layout()), 128, 0.005f,
                        "reference G^D, tau 0.005"),
       })
    all.insert(all.end(), part.begin(), part.end());
  for (ParityCase& c : all) c.forward_bound = 1e-5;
  return all;
}

Cases local_loss_cases() {
  // g2 [20, 48, 48, 16] and a fixed dense_w [128, 9*16] (no gradient) through L^R.
  const LocalLossOptions opt;
  const auto cpu = std::make_shared<const LocalContrastiveLoss>(opt, 20, 48, Device::CPU);
  const auto gpu = std::make_shared<const LocalContrastiveLoss>(opt, 20, 48, Device::CUDA);
  const OpFn f = [cpu, gpu](const std::vector<Tensor>& t) { return (t[0].is_cuda() ? *gpu : *cpu)(t[0], t[1]); };
  return {{"L^R", f, {input({20, 48, 48, 16}, 4), input({128, 9 * 16}, 3, -1, 1, false)}, 1e-4, 1e-5}};
}

Cases segmentation_loss_cases() {
  // logits [3, 40, 36, C], soft labels in [0, 1) (constants).
  Cases c;
  for (int C : {4, 8}) {
    const std::vector<Input> in = {input({3, 40, 36, C}, 10 + C, -3.0f, 3.0f),
                                   input({3, 40, 36, C}, 20 + C, 0.0f, 1.0f, false)};
    for (bool bg : {true, false})
      c.push_back({"dice, C " + std::to_string(C) + (bg ? "" : ", no background"),
                   [bg](const std::vector<Tensor>& t) { return dice_loss(t[0], t[1], bg); }, in, 1e-4, 1e-5});
    const std::vector<float> w = default_class_weights(C);
    c.push_back({"weighted CE, C " + std::to_string(C),
                 [w](const std::vector<Tensor>& t) { return weighted_cross_entropy(t[0], t[1], w); }, in, 1e-4,
                 1e-5});
  }
  return c;
}

// The segmentation losses with 1, 2, 3 and kMaxClasses = 32 classes, over logits [10, 192, 192, C]
// (368640 pixels, 36864 per image), enough that every thread of losses/cuda/segmentation.cu takes
// several pixels: Dice's partial sums run 64 blocks of 256 threads per image (16384 threads for
// 36864 pixels), cross-entropy's 256 blocks of 256 in all (65536 threads for 368640), and the
// backward kernels a grid of at most 8 blocks of 256 per multiprocessor (270336 threads on a
// 132-SM H100). The losses are scaled by the pixel count (times C for Dice), so that a gradient
// element is of order 1 and the normalised error, relative to max(1, largest), is in effect
// relative; the forward is then a sum of 368640 pixels' terms, bounded at 1e-5 relative.
Cases segmentation_loss_many_pixels_cases() {
  const int N = 10, S = 192;
  const float pixels = static_cast<float>(N * S * S);
  Cases c;
  for (int C : {1, 2, 3, kMaxClasses}) {
    const std::string classes = "C " + std::to_string(C);
    const std::vector<Input> in = {input({N, S, S, C}, 50 + C, -3.0f, 3.0f),
                                   input({N, S, S, C}, 90 + C, 0.0f, 1.0f, false)};
    for (bool bg : {true, false}) {
      if (!bg && C == 1) continue;  // no foreground class
      c.push_back({"dice, " + classes + (bg ? "" : ", no background"),
                   [bg, s = pixels * C](const std::vector<Tensor>& t) { return scale(dice_loss(t[0], t[1], bg), s); },
                   in, 1e-4, 1e-5});
    }
    // The paper's weights for 3 classes; else 0.1 for the background and the rest shared.
    std::vector<float> w = C == 3 ? default_class_weights(3) : std::vector<float>(C, C == 1 ? 1.0f : 0.9f / (C - 1));
    if (C == 2 || C == kMaxClasses) w[0] = 0.1f;
    const OpFn ce = [w, pixels](const std::vector<Tensor>& t) {
      return scale(weighted_cross_entropy(t[0], t[1], w), pixels);
    };
    c.push_back({"weighted CE, " + classes, ce, in, 1e-4, 1e-5});
  }
  return c;
}

namespace {

// A store laid out as "a" [1000], "frozen" [37], "b" [n_b]: with "frozen" frozen, Adam makes two
// passes, the second at an offset inside the arenas.
void declare_adam_layout(ParamStore& s, int64_t n_b) {
  s.declare_param("a", {1000}, ParamKind::ConvBias);
  s.declare_param("frozen", {37}, ParamKind::ConvBias);
  s.declare_param("b", {n_b}, ParamKind::ConvBias);
}

// inputs: the param, m and v arenas, then one gradient arena per step (all [P], no gradient);
// output [3, P]: the param, m and v arenas after Adam (cfg, from step count t0) took the steps.
OpFn adam_steps(int64_t n_b, AdamConfig cfg, int64_t t0) {
  return [=](const std::vector<Tensor>& t) {
    const Device d = t[0].device();
    ParamStore s;
    declare_adam_layout(s, n_b);
    s.allocate();
    s.to(d);  // allocated on the CPU, then moved: Adam runs on the moved arenas
    s.freeze("frozen");
    s.param_arena().copy_from(t[0]);
    s.adam_m_arena().copy_from(t[1]);
    s.adam_v_arena().copy_from(t[2]);
    Adam adam(s, cfg);
    adam.set_step_count(t0);
    for (size_t i = 3; i < t.size(); ++i) {
      s.grad_arena().copy_from(t[i]);
      adam.step();
    }
    std::vector<float> out = s.param_arena().to_vector();
    for (const Tensor& a : {s.adam_m_arena(), s.adam_v_arena()}) {
      const std::vector<float> x = a.to_vector();
      out.insert(out.end(), x.begin(), x.end());
    }
    return Tensor::from_vector({3, static_cast<int64_t>(s.param_arena_floats())}, out, d);
  };
}

}  // namespace

// The optimiser's update (kernel adam_step), forward only: params, m and v after four steps,
// from fresh moments and from a carried state. "b" has 2^20 + 3 floats, more than one grid of
// the CUDA kernel, so its grid-stride loop turns. Bound 2e-6 on the normalised error: the two
// kernels evaluate the same float expression, so only rounding separates them (multiply-adds
// contracted or not: up to 3.6e-7 on these inputs, a few ulps of the values near 2). The
// carried state keeps m and v of order 1, so that the normalised error is in effect relative
// for them too.
Cases adam_cases() {
  const int64_t n_b = (int64_t{1} << 20) + 3;
  ParamStore layout;
  declare_adam_layout(layout, n_b);
  layout.allocate();
  const Shape arena = {static_cast<int64_t>(layout.param_arena_floats())};
  const auto no_grad = [](const Shape& s, uint64_t seed, float lo, float hi) { return input(s, seed, lo, hi, false); };
  const Input zeros{arena, std::vector<float>(static_cast<size_t>(arena[0]), 0.0f), false};

  // Fresh moments, the default settings; the gradients alternate between order 1 and 1e-4 (where
  // eps shows against sqrt(v)).
  std::vector<Input> fresh = {no_grad(arena, 50, -2.0f, 2.0f), zeros, zeros};
  for (int k = 0; k < 4; ++k) {
    const float r = k % 2 ? 1e-4f : 1.0f;
    fresh.push_back(no_grad(arena, 60 + k, -r, r));
  }
  // A carried state: m in [-1, 1), v in [0.5, 2), step count 100, lr 1e-2.
  std::vector<Input> carried = {no_grad(arena, 70, -2.0f, 2.0f), no_grad(arena, 71, -1.0f, 1.0f),
                                no_grad(arena, 72, 0.5f, 2.0f)};
  for (int k = 0; k < 4; ++k) carried.push_back(no_grad(arena, 80 + k, -2.0f, 2.0f));
  AdamConfig tuned;
  tuned.lr = 1e-2f;
  return {{"Adam, fresh moments", adam_steps(n_b, AdamConfig{}, 0), fresh, 2e-6},
          {"Adam, carried state", adam_steps(n_b, tuned, 100), carried, 2e-6}};
}

}  // namespace cs::cudatest
