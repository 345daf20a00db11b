// CUDA losses against the CPU ones (which the other tests check against double references): the
// global losses' term lists, the local loss end to end, the segmentation losses. Skipped when no
// GPU is visible.
#include <gtest/gtest.h>

#include "autograd/device.h"
#include "autograd/tape.h"
#include "losses/global.h"
#include "losses/local.h"
#include "losses/loss_reference.h"
#include "losses/segmentation.h"
#include "ops/ops.h"
#include "ops/similarity.h"
#include "support/gradcheck.h"

namespace cs::test {
namespace {

#define REQUIRE_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible"

struct Run {
  Vec out, grad;
};

// Runs f on a copy of `x` on device d, backpropagates sum(out * dy) and returns out and dx.
Run run_on(Device d, const Tensor& x, const std::function<Tensor(const Tensor&)>& f, uint64_t seed) {
  Tensor xd = x.to(d).clone();
  xd.set_requires_grad(true);
  Tensor y = f(xd);
  Tensor dy = random_tensor(y.shape(), seed).to(d);
  Tensor loss = sum(mul(y, dy));
  backward(loss);
  return {to_double(y), to_double(xd.grad())};
}

void expect_parity(const Tensor& x, const std::function<Tensor(const Tensor&)>& f_cpu,
                   const std::function<Tensor(const Tensor&)>& f_gpu, double fwd_tol, double grad_tol,
                   const std::string& what) {
  const Run c = run_on(Device::CPU, x, f_cpu, 99);
  const Run g = run_on(Device::CUDA, x, f_gpu, 99);
  EXPECT_TRUE(close_rel(c.out, g.out, fwd_tol)) << what << " forward";
  EXPECT_TRUE(close_rel(c.grad, g.grad, grad_tol)) << what << " gradient";
}

void ntxent_parity(const ContrastSpec& spec, int d, float tau, const std::string& what) {
  ContrastPlan cpu(spec, Device::CPU), gpu(spec, Device::CUDA);
  Tensor z = random_tensor({spec.rows, d}, 1234);
  for (bool per_term : {false, true}) {
    auto f = [per_term, tau](const ContrastPlan& plan) {
      const ContrastPlan* p = &plan;
      return [p, per_term, tau](const Tensor& x) { return per_term ? ntxent_terms(x, *p, tau) : ntxent_loss(x, *p, tau); };
    };
    expect_parity(z, f(cpu), f(gpu), 1e-5, 1e-4, what + (per_term ? " (per term)" : " (loss)"));
  }
}

// The term lists the global losses build (the similarity kernels on their own are checked in
// tests/ops/test_similarity.cpp).
TEST(CudaParity, GlobalLossSpecs) {
  REQUIRE_GPU();
  // Fused one-block forward (rows <= 64), the paper's 48 x 128.
  ntxent_parity(global_contrast_spec(GlobalLossKind::GD, Compat::Reference, reference_gd_layout()), 128, 0.1f,
                "reference G^D");
  ntxent_parity(global_contrast_spec(GlobalLossKind::GD, Compat::Paper, paper_partition_layout(6, 4)), 128, 0.1f,
                "paper G^D");
  ntxent_parity(global_contrast_spec(GlobalLossKind::GR, Compat::Paper, random_pairs_layout(500)), 128, 0.1f,
                "G^R 1000 rows");
  ntxent_parity(global_contrast_spec(GlobalLossKind::GD, Compat::Reference, reference_gd_layout()), 128, 0.005f,
                "reference G^D, tau 0.005");
}

TEST(CudaParity, LocalLossEndToEnd) {
  REQUIRE_GPU();
  LocalLossOptions opt;
  LocalContrastiveLoss cpu(opt, 20, 48, Device::CPU), gpu(opt, 20, 48, Device::CUDA);
  Tensor w = random_tensor({128, 9 * 16}, 3);
  Tensor f = random_tensor({20, 48, 48, 16}, 4);
  expect_parity(f, [&](const Tensor& x) { return cpu(x, w); },
                [&](const Tensor& x) { return gpu(x, w.to(Device::CUDA)); }, 1e-5, 1e-4, "L^R");
}

TEST(CudaParity, SegmentationLosses) {
  REQUIRE_GPU();
  for (int C : {4, 8}) {
    Tensor x = random_tensor({3, 40, 36, C}, 10 + C, -3.0f, 3.0f);
    Tensor y = random_tensor({3, 40, 36, C}, 20 + C, 0.0f, 1.0f);
    Tensor yg = y.to(Device::CUDA);
    for (bool bg : {true, false})
      expect_parity(x, [&](const Tensor& t) { return dice_loss(t, y, bg); },
                    [&](const Tensor& t) { return dice_loss(t, yg, bg); }, 1e-5, 1e-4, "dice");
    const auto w = default_class_weights(C);
    expect_parity(x, [&](const Tensor& t) { return weighted_cross_entropy(t, y, w); },
                  [&](const Tensor& t) { return weighted_cross_entropy(t, yg, w); }, 1e-5, 1e-4, "weighted CE");
  }
}

}  // namespace
}  // namespace cs::test
