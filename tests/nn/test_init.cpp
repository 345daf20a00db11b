// Initialisation: distributions (He normal, Glorot uniform), constants, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/init.h"
#include "nn/params.h"

namespace cs {
namespace {

struct Moments {
  double mean, stddev, within_1sd;
};
Moments moments(const std::vector<float>& v, double sd_ref) {
  double s = 0, s2 = 0, in1 = 0;
  for (float x : v) {
    s += x;
    s2 += static_cast<double>(x) * x;
    in1 += std::fabs(x) <= sd_ref;
  }
  const double n = static_cast<double>(v.size()), m = s / n;
  return {m, std::sqrt(s2 / n - m * m), in1 / n};
}

void declare(ParamStore& s, bool extra_first = false) {
  if (extra_first) s.declare_param("aaa.w", {8, 3, 3, 8}, ParamKind::ConvWeight);
  s.declare_param("enc_c4_b.w", {128, 3, 3, 128}, ParamKind::ConvWeight);
  s.declare_param("enc_c5_a.w", {128, 3, 3, 128}, ParamKind::ConvWeight);
  s.declare_param("enc_c4_b.b", {128}, ParamKind::ConvBias);
  s.declare_param("enc_c4_b.bn.gamma", {128}, ParamKind::BNGamma);
  s.declare_param("enc_c4_b.bn.beta", {128}, ParamKind::BNBeta);
  s.declare_param("reg_nn1.w", {1024, 300}, ParamKind::DenseWeight);
  s.declare_buffer("enc_c4_b.bn.mean", {128}, ParamKind::BNMean);
  s.declare_buffer("enc_c4_b.bn.var", {128}, ParamKind::BNVar);
}

TEST(Init, HeNormalForConvs) {
  ParamStore s;
  declare(s);
  s.allocate();
  init_params(s);
  const double sd = std::sqrt(2.0 / (3 * 3 * 128));
  const auto m = moments(s.param("enc_c4_b.w").to_vector(), sd);  // 147456 samples
  EXPECT_NEAR(m.stddev, sd, 0.01 * sd);
  EXPECT_NEAR(m.mean, 0.0, 0.01 * sd);
  EXPECT_NEAR(m.within_1sd, 0.6827, 0.01);  // normal, not uniform (0.577) or anything else
}

TEST(Init, GlorotUniformForDense) {
  ParamStore s;
  declare(s);
  s.allocate();
  init_params(s);
  const double a = std::sqrt(6.0 / (1024 + 300));
  const std::vector<float> v = s.param("reg_nn1.w").to_vector();
  double lo = 1, hi = -1;
  for (float x : v) lo = std::min(lo, static_cast<double>(x)), hi = std::max(hi, static_cast<double>(x));
  EXPECT_GE(lo, -a);
  EXPECT_LE(hi, a);
  EXPECT_LT(lo, -0.99 * a);  // the whole range is used
  EXPECT_GT(hi, 0.99 * a);
  const auto m = moments(v, a / std::sqrt(3.0));
  EXPECT_NEAR(m.stddev, a / std::sqrt(3.0), 0.01 * a);
}

TEST(Init, ConstantsAndRunningVarianceOption) {
  ParamStore s;
  declare(s);
  s.allocate();
  s.param_arena().fill_(7.0f);
  s.buffer_arena().fill_(7.0f);
  init_params(s);
  for (float x : s.param("enc_c4_b.b").to_vector()) EXPECT_EQ(x, 0.0f);
  for (float x : s.param("enc_c4_b.bn.gamma").to_vector()) EXPECT_EQ(x, 1.0f);
  for (float x : s.param("enc_c4_b.bn.beta").to_vector()) EXPECT_EQ(x, 0.0f);
  for (float x : s.buffer("enc_c4_b.bn.mean").to_vector()) EXPECT_EQ(x, 0.0f);
  for (float x : s.buffer("enc_c4_b.bn.var").to_vector()) EXPECT_EQ(x, 0.0f);  // docs/method.md §1.7
  InitOptions o;
  o.bn_running_var = 1.0f;
  init_params(s, o);
  for (float x : s.buffer("enc_c4_b.bn.var").to_vector()) EXPECT_EQ(x, 1.0f);
}

TEST(Init, DeterministicPerNameAndSeed) {
  ParamStore a, b, c, d;
  declare(a);
  declare(b, /*extra_first=*/true);  // another tensor declared first must not change the others
  declare(c);
  declare(d);
  for (ParamStore* s : {&a, &b, &c, &d}) s->allocate();
  init_params(a);
  init_params(b);
  InitOptions o2;
  o2.seed = 2;
  init_params(c, o2);
  InitOptions same;
  same.same_init_for_same_shape = true;
  init_params(d, same);
  const auto wa = a.param("enc_c4_b.w").to_vector();
  EXPECT_EQ(wa, b.param("enc_c4_b.w").to_vector());
  EXPECT_EQ(a.param("reg_nn1.w").to_vector(), b.param("reg_nn1.w").to_vector());
  EXPECT_NE(wa, c.param("enc_c4_b.w").to_vector());
  EXPECT_NE(wa, a.param("enc_c5_a.w").to_vector());  // same shape, different name
  // The reference-code quirk: same-shape kernels start identical.
  EXPECT_EQ(d.param("enc_c4_b.w").to_vector(), d.param("enc_c5_a.w").to_vector());
}

}  // namespace
}  // namespace cs
