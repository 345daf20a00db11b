// Adam: TensorFlow's update against a hand computation, freezing, reset. The CUDA update is
// compared with this one in the CUDA parity table (Cuda.AdamStepParity, tests/ops/parity_losses.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/adam.h"
#include "nn/params.h"

namespace cs {
namespace {

void set(Tensor t, const std::vector<float>& v) { t.copy_from(Tensor::from_vector(t.shape(), v)); }

TEST(Adam, MatchesAHandComputedTwoSteps) {
  ParamStore s;
  s.declare_param("w", {4}, ParamKind::ConvBias);
  s.allocate();
  const std::vector<float> w0 = {0.5f, -1.0f, 2.0f, 0.0f};
  const std::vector<float> g1 = {0.1f, -3.0f, 1e-6f, 0.0f}, g2 = {-0.2f, 1.0f, 2e-6f, 4.0f};
  set(s.param("w"), w0);
  AdamConfig cfg;
  cfg.lr = 0.01f;
  Adam adam(s, cfg);
  set(s.grad("w"), g1);
  adam.step();
  set(s.grad("w"), g2);
  adam.step();
  EXPECT_EQ(adam.step_count(), 2);
  // Written out by hand: TF's lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps).
  // The hyper-parameters are float32 (as in TF): 1 - 0.999f is not 0.001 to 1e-5.
  const double lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  const std::vector<float> got = s.param("w").to_vector(), m = s.adam_m_at(0).to_vector(), v = s.adam_v_at(0).to_vector();
  for (int i = 0; i < 4; ++i) {
    double mi = (1 - b1) * g1[i], vi = (1 - b2) * g1[i] * g1[i];
    double wi = w0[i] - lr * std::sqrt(1 - b2) / (1 - b1) * mi / (std::sqrt(vi) + eps);
    mi = b1 * mi + (1 - b1) * g2[i];
    vi = b2 * vi + (1 - b2) * g2[i] * g2[i];
    wi -= lr * std::sqrt(1 - b2 * b2) / (1 - b1 * b1) * mi / (std::sqrt(vi) + eps);
    EXPECT_NEAR(got[i], wi, 1e-6 * std::max(1.0, std::fabs(wi))) << i;
    EXPECT_NEAR(m[i], mi, 1e-6 * std::fabs(mi) + 1e-12) << i;
    EXPECT_NEAR(v[i], vi, 1e-6 * std::fabs(vi) + 1e-18) << i;
  }
  // First step of Adam moves each weight by about lr against the sign of its gradient.
  ParamStore t;
  t.declare_param("w", {2}, ParamKind::ConvBias);
  t.allocate();
  Adam a2(t, cfg);
  set(t.grad("w"), {5.0f, -0.001f});
  a2.step();
  EXPECT_NEAR(t.param("w").to_vector()[0], -0.01f, 1e-6);
  EXPECT_NEAR(t.param("w").to_vector()[1], 0.01f, 1e-5);
}

TEST(Adam, FrozenParametersAreUntouched) {
  ParamStore s;
  s.declare_param("enc_a.w", {3, 3, 3, 3}, ParamKind::ConvWeight);
  s.declare_param("dec_a.w", {5}, ParamKind::ConvBias);
  s.declare_param("enc_b.w", {7}, ParamKind::ConvBias);
  s.allocate();
  s.param_arena().fill_(1.0f);
  s.freeze("enc_");
  Adam adam(s);
  for (int step = 0; step < 3; ++step) {
    s.zero_grad();
    s.grad_arena().fill_(0.5f);  // every param, frozen or not, "has" a gradient
    adam.step();
  }
  for (const char* n : {"enc_a.w", "enc_b.w"}) {
    for (float x : s.param(n).to_vector()) EXPECT_EQ(x, 1.0f) << n;
    for (float x : s.adam_m_at(s.param_index(n)).to_vector()) EXPECT_EQ(x, 0.0f) << n;
    for (float x : s.adam_v_at(s.param_index(n)).to_vector()) EXPECT_EQ(x, 0.0f) << n;
  }
  for (float x : s.param("dec_a.w").to_vector()) EXPECT_LT(x, 1.0f - 1e-3f);
  adam.reset();
  EXPECT_EQ(adam.step_count(), 0);
  for (float x : s.adam_m_arena().to_vector()) EXPECT_EQ(x, 0.0f);
}

TEST(Adam, RejectsBadSettings) {
  ParamStore s;
  s.declare_param("w", {1}, ParamKind::ConvBias);
  EXPECT_THROW(Adam a(s), std::logic_error);  // not allocated
  s.allocate();
  AdamConfig bad;
  bad.beta1 = 1.0f;
  EXPECT_THROW(Adam a(s, bad), std::invalid_argument);
}

}  // namespace
}  // namespace cs
