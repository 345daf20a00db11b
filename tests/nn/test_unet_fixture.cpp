// The whole U-Net against its PyTorch twin (scripts/make_unet_fixture.py, float64): logits, the
// soft Dice loss, every parameter gradient, BN running statistics and a 10-step Adam trajectory.
// The weights are not in the fixture: both sides compute them from the same counter hash.
//
// Tolerances (float32 here against float64 there):
//   logits, gradients, running statistics: max |ours - ref| <= 1e-3 * max |ref| per tensor
//     (the scale has a floor of 1e-4 of the largest gradient, for the conv biases in front of a
//     training-mode BN, whose exact gradient is 0);
//   whole-tensor gradient statistics (sum, L1, L2, max|.|): within 1e-3 relative (sum: of L1);
//   loss: 1e-5 relative; trajectory: 1e-3 relative per step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "nn/adam.h"
#include "dice_ref.h"
#include "nn/init.h"
#include "nn/safetensors.h"
#include "nn/unet.h"
#include "ops/ops.h"

namespace cs {
namespace {

const std::string kFixture = std::string(CONTRASEG_SOURCE_DIR) + "/tests/fixtures/unet/unet_v1.safetensors";
constexpr double kTol = 1e-3;

// u(name, i) of the fixture script: splitmix64 of (fnv1a64(name) + i * golden), top 24 bits.
double hash_uniform(uint64_t name_hash, uint64_t i) {
  uint64_t z = name_hash + i * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 40) / static_cast<double>(1u << 24);
}

// The fixture's weights (see the script's docstring), written into every parameter.
void set_fixture_weights(ParamStore& store) {
  for (size_t k = 0; k < store.num_params(); ++k) {
    const ParamEntry& e = store.param_entry(k);
    const uint64_t h = fnv1a64(e.name);
    std::vector<float> v(static_cast<size_t>(e.numel));
    for (size_t i = 0; i < v.size(); ++i) {
      const double u = 2.0 * hash_uniform(h, i) - 1.0;
      double x = 0;
      switch (e.kind) {
        case ParamKind::ConvWeight:
          x = u * std::sqrt(3.0) * std::sqrt(2.0 / static_cast<double>(e.shape[1] * e.shape[2] * e.shape[3]));
          break;
        case ParamKind::ConvBias: x = 0.1 * u; break;
        case ParamKind::BNGamma: x = 1.0 + 0.2 * u; break;
        case ParamKind::BNBeta: x = 0.1 * u; break;
        default: FAIL() << "unexpected parameter kind for " << e.name;
      }
      v[i] = static_cast<float>(x);
    }
    store.param_at(k).copy_from(Tensor::from_vector(e.shape, v));
  }
}

// sum, L1, L2, max|.| in double, like the script's stats().
std::vector<double> stats(const std::vector<float>& a) {
  double s = 0, l1 = 0, l2 = 0, mx = 0;
  for (float f : a) {
    s += f;
    l1 += std::fabs(f);
    l2 += static_cast<double>(f) * f;
    mx = std::max(mx, static_cast<double>(std::fabs(f)));
  }
  return {s, l1, std::sqrt(l2), mx};
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

class UNetFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reader_ = std::make_unique<SafeTensorsReader>(kFixture);
  }
  static void TearDownTestSuite() { reader_.reset(); }

  std::unique_ptr<UNet> make_net() {
    const auto& md = reader_->metadata();
    UNetConfig cfg;
    cfg.image_size = std::stoi(md.at("size"));
    cfg.num_classes = std::stoi(md.at("num_classes"));
    auto net = std::make_unique<UNet>(cfg);
    set_fixture_weights(net->params());
    return net;
  }
  Tensor input() const {
    Tensor x = Tensor::from_vector(reader_->info("input").shape, reader_->read_floats("input"));
    return x;
  }
  Tensor labels() const { return Tensor::from_vector(reader_->info("labels").shape, reader_->read_floats("labels")); }

  static std::unique_ptr<SafeTensorsReader> reader_;
};
std::unique_ptr<SafeTensorsReader> UNetFixture::reader_;

TEST_F(UNetFixture, HeaderAndWeightsAgree) {
  EXPECT_EQ(reader_->metadata().at("format"), "contraseg-unet-fixture");
  EXPECT_EQ(reader_->metadata().at("version"), "1");
  auto net = make_net();
  const ParamStore& store = net->params();
  int checked = 0;
  for (size_t k = 0; k < store.num_params(); ++k) {
    const std::string& name = store.param_entry(k).name;
    ASSERT_TRUE(reader_->has("wstat." + name)) << "the fixture has no parameter " << name;
    const std::vector<double> ref = reader_->read_doubles("wstat." + name);
    const std::vector<double> got = stats(store.param_at(k).to_vector());
    for (int s = 0; s < 4; ++s)
      EXPECT_NEAR(got[s], ref[s], 1e-9 * std::max(1.0, std::fabs(ref[1]))) << name << " weight statistic " << s;
    ++checked;
  }
  // ... and the fixture has no parameter the model lacks.
  int in_file = 0;
  for (const auto& n : reader_->names()) in_file += n.rfind("wstat.", 0) == 0;
  EXPECT_EQ(checked, in_file);
}

TEST_F(UNetFixture, LogitsLossGradientsAndRunningStats) {
  auto net = make_net();
  ParamStore& store = net->params();
  store.zero_grad();
  Tensor logits = net->forward(input(), RunMode::training());
  Tensor loss = testing_nn::soft_dice_ref(softmax(logits), labels());
  backward(loss);

  // Logits.
  const std::vector<double> ref_logits = reader_->read_doubles("logits");
  const std::vector<float> got_logits = logits.to_vector();
  ASSERT_EQ(got_logits.size(), ref_logits.size());
  ASSERT_EQ(logits.shape(), reader_->info("logits").shape);
  double err = 0;
  for (size_t i = 0; i < got_logits.size(); ++i) err = std::max(err, std::fabs(got_logits[i] - ref_logits[i]));
  const double logit_err = err / max_abs(ref_logits);
  EXPECT_LE(logit_err, kTol);

  // Loss.
  const double ref_loss = reader_->read_doubles("loss")[0];
  const double got_loss = loss.to_vector()[0];
  EXPECT_NEAR(got_loss, ref_loss, 1e-5 * std::fabs(ref_loss));

  // Gradients.
  double global = 0;
  for (size_t k = 0; k < store.num_params(); ++k)
    global = std::max(global, reader_->read_doubles("gstat." + store.param_entry(k).name)[3]);
  ASSERT_GT(global, 0.0);
  double worst = 0;
  std::string worst_name;
  for (size_t k = 0; k < store.num_params(); ++k) {
    const std::string& name = store.param_entry(k).name;
    const std::vector<float> g = store.grad_at(k).to_vector();
    const std::vector<double> ref_stat = reader_->read_doubles("gstat." + name);
    const std::vector<double> idx = reader_->read_doubles("gidx." + name);
    const std::vector<double> val = reader_->read_doubles("gval." + name);
    ASSERT_EQ(idx.size(), val.size()) << name;
    const double scale = std::max(ref_stat[3], 1e-4 * global);
    double e = 0;
    for (size_t j = 0; j < idx.size(); ++j) {
      const auto i = static_cast<size_t>(idx[j]);
      ASSERT_LT(i, g.size()) << name;
      e = std::max(e, std::fabs(g[i] - val[j]) / scale);
    }
    EXPECT_LE(e, kTol) << "gradient of " << name << " (sampled entries, relative to max |grad| " << ref_stat[3] << ")";
    if (e > worst) worst = e, worst_name = name;
    if (std::getenv("CS_FIXTURE_VERBOSE")) std::printf("  %-22s max|ref| %.3e err %.2e\n", name.c_str(), ref_stat[3], e);
    const std::vector<double> got_stat = stats(g);
    EXPECT_NEAR(got_stat[0], ref_stat[0], kTol * std::max(ref_stat[1], 1e-4 * global)) << name << " gradient sum";
    for (int s = 1; s < 4; ++s)
      EXPECT_NEAR(got_stat[s], ref_stat[s], kTol * std::max(ref_stat[s], 1e-4 * global))
          << name << " gradient statistic " << s;
  }

  // BN running statistics after this one forward pass.
  double bn_err = 0;
  int bn_layers = 0;
  for (const LayerSpec& L : net->layers()) {
    if (!L.bn) continue;
    ++bn_layers;
    for (const char* what : {"mean", "var"}) {
      const std::string name = L.name + ".bn." + what;
      const std::vector<double> ref = reader_->read_doubles("bn." + L.name + "." + what);
      const std::vector<float> got = store.buffer(name).to_vector();
      ASSERT_EQ(got.size(), ref.size()) << name;
      double e = 0;
      for (size_t i = 0; i < got.size(); ++i) e = std::max(e, std::fabs(got[i] - ref[i]));
      e /= std::max(max_abs(ref), 1e-12);
      EXPECT_LE(e, kTol) << name;
      bn_err = std::max(bn_err, e);
    }
  }
  EXPECT_EQ(bn_layers, 28);
  std::printf("[fixture] logits err %.2e, loss %.8f vs %.8f, worst gradient err %.2e (%s), BN stats err %.2e\n",
              logit_err, got_loss, ref_loss, worst, worst_name.c_str(), bn_err);
}

TEST_F(UNetFixture, AdamTrajectory) {
  auto net = make_net();
  Adam adam(net->params());  // lr 1e-3, TF defaults
  const std::vector<double> ref = reader_->read_doubles("trajectory");
  ASSERT_EQ(ref.size(), 10u);
  const Tensor x = input(), y = labels();
  double worst = 0;
  for (size_t t = 0; t < ref.size(); ++t) {
    net->params().zero_grad();
    Tensor loss = testing_nn::soft_dice_ref(softmax(net->forward(x, RunMode::training())), y);
    backward(loss);
    adam.step();
    const double got = loss.to_vector()[0];
    EXPECT_NEAR(got, ref[t], kTol * std::fabs(ref[t])) << "step " << t;
    worst = std::max(worst, std::fabs(got - ref[t]) / std::fabs(ref[t]));
  }
  EXPECT_EQ(adam.step_count(), 10);
  EXPECT_LT(ref.back(), ref.front() - 0.05);  // the fixture itself shows learning
  std::printf("[fixture] trajectory %.6f -> %.6f, worst relative err %.2e\n", ref.front(), ref.back(), worst);
}

}  // namespace
}  // namespace cs
