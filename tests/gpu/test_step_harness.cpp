// The whole-step parity harness (step_parity.h) without a GPU, on one small case: stage 2 with L^R
// at 64x64 (small_settings: 6 images), whose frozen encoder the harness must tell apart. Run CPU
// against CPU it agrees to the bit; it keeps a gradient for every trainable parameter; and with
// the tolerances of the GPU tests (step_cases.h) it reports a difference in any one quantity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "experiments/methods/stage_step.h"
#include "gpu/step_cases.h"

namespace cs::steptest {
namespace {

bool reports(const Comparison& c, const std::string& start) {
  return std::any_of(c.mismatches.begin(), c.mismatches.end(),
                     [&](const std::string& m) { return m.rfind(start, 0) == 0; });
}

std::string listed(const Comparison& c) {
  std::string s;
  for (const std::string& m : c.mismatches) s += "\n  " + m;
  return s;
}

float largest(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

TEST(StepParityHarness, AgreesWithItselfKeepsEveryGradientAndReportsADifference) {
  const StepCase c = {"stage 2, L^R, 64x64", false, Stage::Local, {}};
  const StepOutcome want = outcome_on(Device::CPU, c);

  // (a) Two runs on one device agree to the bit, and compare() finds them equal with every
  // tolerance 0 (but the bound on the gradients that are rounding noise, which is no comparison).
  const StepOutcome again = outcome_on(Device::CPU, c);
  EXPECT_EQ(again.loss, want.loss);
  EXPECT_TRUE(again.images == want.images && again.before == want.before && again.grads == want.grads &&
              again.after == want.after && again.buffers == want.buffers);
  Tolerances exact;
  exact.zero_grad = step_tolerances().zero_grad;
  const Comparison same = compare(again, want, exact);
  EXPECT_TRUE(same.mismatches.empty()) << listed(same);

  // (b) Every parameter is there; the encoder is frozen, everything else has a gradient and moved.
  const auto model = make_model(case_settings(c, Device::CPU), Stage::Local, Device::CPU);
  const ParamStore& ps = model->params();
  EXPECT_EQ(want.frozen, ps.param_names("enc_"));
  EXPECT_EQ(want.trainable.size() + want.frozen.size(), ps.num_params());
  EXPECT_GT(want.lr, 0.0);
  for (const std::string& n : want.trainable) {
    ASSERT_EQ(want.grads.at(n).size(), static_cast<size_t>(ps.param(n).numel())) << n;
    EXPECT_GT(largest(want.grads.at(n)), 0.0f) << n << ": no gradient";
    EXPECT_NE(want.after.at(n), want.before.at(n)) << n << ": not updated";
  }

  // (c) With the GPU tests' tolerances, each kind of difference is reported by name.
  const Tolerances tol = step_tolerances();
  ASSERT_TRUE(compare(want, want, tol).mismatches.empty());
  const std::string w = "dec_c3_a.w", b = "dec_c3_a.b", f = want.frozen.front(), stat = "dec_c3_a.bn.mean";
  const auto expect_reported = [&](const StepOutcome& got, const std::string& what) {
    const Comparison cmp = compare(got, want, tol);
    EXPECT_TRUE(reports(cmp, what)) << what << listed(cmp);
  };
  StepOutcome got = want;  // one gradient element off by twice the tensor's largest
  got.grads.at(w)[7] += 2 * largest(want.grads.at(w));
  expect_reported(got, "grad max " + w);
  got = want;  // a whole gradient half as large again
  for (float& x : got.grads.at(w)) x *= 1.5f;
  expect_reported(got, "grad l2 " + w);
  got = want;  // a gradient where the exact one is zero (a conv bias in front of batch norm)
  got.grads.at(b) = got.grads.at("dec_c3_a.bn.beta");
  expect_reported(got, "zero grad " + b + " (got)");
  got = want;  // one parameter moved by Adam's rate more than its gradient explains
  got.after.at(w)[0] += static_cast<float>(want.lr);
  expect_reported(got, "after " + w);
  got = want;  // a frozen parameter with a gradient
  got.grads.at(f)[0] = 1e-6f;
  expect_reported(got, "frozen " + f + " (got)");
  got = want;  // a BN running mean 1% off
  got.buffers.at(stat)[0] += 0.01f * largest(want.buffers.at(stat));
  expect_reported(got, "buffers " + stat);
  // Another seed: another initialisation and batch, so every kind differs.
  StepCase other = c;
  other.keys.push_back({"seed", "1"});
  got = outcome_on(Device::CPU, other);
  for (const char* kind : {"batch images", "before ", "loss value", "grad l2 ", "buffers "})
    expect_reported(got, kind);
}

}  // namespace
}  // namespace cs::steptest
