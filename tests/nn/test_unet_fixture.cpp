// The U-Net, its heads and every loss against their PyTorch twin (scripts/make_unet_fixture.py,
// float64): loss values, forward outputs, every parameter gradient, BN running statistics and a
// 10-step Adam trajectory. The weights are not in the fixture: both sides compute them from the
// same counter hash. Four tasks (see the script for the exact layouts):
//   dice  full U-Net, 2 x 64x64, soft Dice (cs::dice_loss) + 10 Adam steps;
//   gdp   encoder + g1, G^D paper mode, 2 volumes x 4 partitions x 2 views (16 x 32x32);
//   gdr   encoder + g1, G^D reference mode, 48 slots (32 real images, 16 zero images);
//   lr    frozen encoder + decoder blocks 1..3 + g2 + g2_pred, L^R, 3 slices x 2 views (32x32).
// Passes and tolerances (errors per parameter tensor, over the sampled entries):
//   eval   (every BN on fixed running statistics) and lr "frozen" (encoder BN on running
//          statistics, the rest on batch statistics, as paper-mode stage 2): well conditioned,
//          PyTorch's own float32 run is within 2e-5 of float64 and the fixture's inputs are
//          screened against ReLU / max-pool kinks (see the script):
//          max |ours - ref| <= 1e-3 * max |ref|, every gradient, biases included.
//   train  (every BN on batch statistics): relative L2 per tensor. Backpropagating through a
//          chain of training-mode BNs amplifies rounding: PyTorch's float32 run of these passes
//          is 2.8e-2 (dice), 2.7e-2 (gdp), 7.6e-2 (gdr) away from float64 at worst, and float64
//          itself moves by 3.3e-2, 1.5e-2, 1.7e-2 under noise of a few float32 ulps per layer
//          (both in the metadata); bounds: dice 3e-2, gdp 5e-2, gdr 1e-1. A wrong formula gives
//          errors of order 1.
//          Conv biases in front of a batch-statistics BN have an exact gradient of 0: checked to
//          vanish (<= 1e-3 of the largest gradient; float32 cancellation over N*H*W terms).
//   Whole-tensor gradient statistics (sum, L1, L2, max|.|): within the same bound, relative
//   (the sum against the L1 norm). Frozen encoder parameters (lr): gradient exactly 0.
//   Loss: 1e-5 relative (eval, frozen), 1e-4 (train). Forward outputs (logits, g1 embeddings,
//   g2 maps): max-abs 1e-3 of max |ref|. Adam trajectory: 2e-2 relative per step (PyTorch
//   float32: 1.2e-2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "losses/global.h"
#include "losses/local.h"
#include "losses/segmentation.h"
#include "autograd/precision.h"
#include "nn/adam.h"
#include "nn/init.h"
#include "nn/safetensors.h"
#include "nn/unet.h"
#include "ops/ops.h"

namespace cs {
namespace {

const std::string kFixture = std::string(CONTRASEG_SOURCE_DIR) + "/tests/fixtures/unet/unet_v2.safetensors";
constexpr double kTol = 1e-3;            // max-abs error / max |ref|, well-conditioned passes
constexpr double kTrajectoryTol = 2e-2;  // relative, per step of the Adam trajectory
constexpr double kVanishTol = 1e-3;      // of the largest gradient, for exact zeros

// How one (task, pass) is compared; see the header comment.
struct PassCheck {
  std::string task, pass;
  bool relative_l2;  // false: max-abs / max|ref| per tensor
  double grad_tol;
  double loss_tol;
  double out_tol = kTol;  // forward output: max-abs / max|ref|
  std::string key(const std::string& what) const { return task + "." + pass + "." + what; }
};

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
        case ParamKind::DenseWeight: x = u * std::sqrt(6.0 / static_cast<double>(e.shape[0] + e.shape[1])); break;
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

// The eval pass's BN running statistics: mean 0.1 (2u - 1), variance 1 + 0.5 (2u - 1).
void set_fixture_running_stats(ParamStore& store) {
  for (size_t k = 0; k < store.num_buffers(); ++k) {
    const ParamEntry& e = store.buffer_entry(k);
    const bool var = e.kind == ParamKind::BNVar;
    const uint64_t h = fnv1a64(e.name);
    std::vector<float> v(static_cast<size_t>(e.numel));
    for (size_t i = 0; i < v.size(); ++i) {
      const double u = 2.0 * hash_uniform(h, i) - 1.0;
      v[i] = static_cast<float>(var ? 1.0 + 0.5 * u : 0.1 * u);
    }
    store.buffer_at(k).copy_from(Tensor::from_vector(e.shape, v));
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

UNetConfig dice_config() {
  UNetConfig c;
  c.image_size = 64;
  c.num_classes = 4;
  return c;
}
UNetConfig g1_config() {  // encoder + g1 (stage 1)
  UNetConfig c;
  c.image_size = 32;
  c.decoder_blocks = 0;
  c.seg_head = false;
  c.g1 = true;
  return c;
}
UNetConfig g2_config() {  // encoder + decoder blocks 1..3 + g2 with g2_pred (stage 2)
  UNetConfig c;
  c.image_size = 32;
  c.decoder_blocks = 3;
  c.seg_head = false;
  c.g2_block = 3;
  return c;
}

class UNetFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reader_ = std::make_unique<SafeTensorsReader>(kFixture); }
  static void TearDownTestSuite() { reader_.reset(); }

  static std::unique_ptr<UNet> make_net(const UNetConfig& cfg, bool eval_stats) {
    auto net = std::make_unique<UNet>(cfg);
    set_fixture_weights(net->params());
    if (eval_stats) set_fixture_running_stats(net->params());
    net->params().zero_grad();
    return net;
  }
  static Tensor read(const std::string& key) {
    return Tensor::from_vector(reader_->info(key).shape, reader_->read_floats(key));
  }
  static std::string meta(const std::string& key) {
    const auto& md = reader_->metadata();
    auto it = md.find(key);
    return it == md.end() ? std::string("?") : it->second;
  }

  // Compares every parameter gradient of `store` with the fixture's (task, pass); frozen
  // parameters must have a zero gradient and no entry in the fixture. Returns the worst error.
  static double check_gradients(const ParamStore& store, const PassCheck& c);
  static void check_loss(const Tensor& loss, const PassCheck& c);
  static double check_output(const Tensor& out, const PassCheck& c);
  // The loss, the output and every gradient of one pass against the fixture, then a summary line.
  static void check_pass(const Tensor& loss, const Tensor& out, const ParamStore& params, const PassCheck& c) {
    check_loss(loss, c);
    const double out_err = check_output(out, c);
    print_pass(c, out_err, check_gradients(params, c));
  }
  static void print_pass(const PassCheck& c, double out_err, double grad_err) {
    std::printf("[fixture] %s.%s: output err %.2e, worst gradient err %.2e (%s; PyTorch float32: %s)\n",
                c.task.c_str(), c.pass.c_str(), out_err, grad_err, c.relative_l2 ? "rel. L2" : "max-abs",
                meta(c.key(c.relative_l2 ? "torch_f32_grad_rel_l2_max" : "torch_f32_grad_max_abs_err")).c_str());
  }

  static std::unique_ptr<SafeTensorsReader> reader_;
};
std::unique_ptr<SafeTensorsReader> UNetFixture::reader_;

double UNetFixture::check_gradients(const ParamStore& store, const PassCheck& c) {
  const SafeTensorsReader& r = *reader_;
  double global = 0;
  int in_fixture = 0;
  for (const auto& n : r.names()) {
    if (n.rfind(c.key("gstat."), 0) != 0) continue;
    ++in_fixture;
    global = std::max(global, r.read_doubles(n)[3]);
  }
  EXPECT_GT(global, 0.0) << c.task << "." << c.pass << ": no gradients in the fixture";
  double worst = 0;
  std::string worst_name;
  int checked = 0;
  for (size_t k = 0; k < store.num_params(); ++k) {
    const std::string& name = store.param_entry(k).name;
    const std::vector<float> g = store.grad_at(k).to_vector();
    const std::vector<double> got_stat = stats(g);
    if (!store.trainable(k)) {
      EXPECT_FALSE(r.has(c.key("gstat." + name))) << "the fixture has a gradient for frozen " << name;
      EXPECT_EQ(got_stat[3], 0.0) << c.task << "." << c.pass << ": frozen " << name << " got a gradient";
      continue;
    }
    if (!r.has(c.key("gstat." + name))) {
      ADD_FAILURE() << c.task << "." << c.pass << ": the fixture has no gradient for " << name;
      continue;
    }
    ++checked;
    const std::vector<double> ref_stat = r.read_doubles(c.key("gstat." + name));
    const std::vector<double> idx = r.read_doubles(c.task + ".gidx." + name);
    const std::vector<double> val = r.read_doubles(c.key("gval." + name));
    EXPECT_EQ(idx.size(), val.size()) << name;
    if (ref_stat[3] < 1e-9 * global) {
      // A conv bias in front of a batch-statistics BN: its exact gradient is 0.
      EXPECT_LE(got_stat[3], kVanishTol * global) << c.task << "." << c.pass << ": gradient of " << name
                                            << " should vanish";
      continue;
    }
    double e = 0, d2 = 0, r2 = 0;
    for (size_t j = 0; j < idx.size() && j < val.size(); ++j) {
      const auto i = static_cast<size_t>(idx[j]);
      if (i >= g.size()) {
        ADD_FAILURE() << name << ": sample index " << i << " out of range";
        break;
      }
      e = std::max(e, std::fabs(g[i] - val[j]));
      d2 += (g[i] - val[j]) * (g[i] - val[j]);
      r2 += val[j] * val[j];
    }
    const double err = c.relative_l2 ? std::sqrt(d2 / r2) : e / ref_stat[3];
    EXPECT_LE(err, c.grad_tol) << c.task << "." << c.pass << " gradient of " << name << " (max |grad| "
                               << ref_stat[3] << ")";
    // Whole-tensor statistics: L1, L2, max|.| and the sum (against the L1 scale).
    EXPECT_NEAR(got_stat[0], ref_stat[0], c.grad_tol * ref_stat[1]) << c.task << "." << c.pass << " " << name
                                                                   << " gradient sum";
    for (int s = 1; s < 4; ++s)
      EXPECT_NEAR(got_stat[s], ref_stat[s], c.grad_tol * ref_stat[s])
          << c.task << "." << c.pass << " " << name << " gradient statistic " << s;
    if (err > worst) worst = err, worst_name = name;
    if (std::getenv("CS_FIXTURE_VERBOSE"))
      std::printf("  %s.%s %-22s max|ref| %.3e err %.2e\n", c.task.c_str(), c.pass.c_str(), name.c_str(),
                  ref_stat[3], err);
  }
  EXPECT_EQ(checked, in_fixture) << c.task << "." << c.pass << ": the fixture has gradients the model lacks";
  if (std::getenv("CS_FIXTURE_VERBOSE")) std::printf("  worst: %s\n", worst_name.c_str());
  return worst;
}

void UNetFixture::check_loss(const Tensor& loss, const PassCheck& c) {
  const double ref = reader_->read_doubles(c.key("loss"))[0], got = loss.to_vector()[0];
  EXPECT_NEAR(got, ref, c.loss_tol * std::fabs(ref)) << c.task << "." << c.pass << " loss";
  std::printf("[fixture] %s.%s: loss %.8f vs %.8f (rel. err %.1e)\n", c.task.c_str(), c.pass.c_str(), got, ref,
              std::fabs(got - ref) / std::fabs(ref));
}

double UNetFixture::check_output(const Tensor& out, const PassCheck& c) {
  const std::string key = c.key("out");
  EXPECT_EQ(out.shape(), reader_->info(key).shape) << key;
  const std::vector<double> ref = reader_->read_doubles(key);
  const std::vector<float> got = out.to_vector();
  if (got.size() != ref.size()) return 1e9;
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - ref[i]));
  err /= max_abs(ref);
  EXPECT_LE(err, c.out_tol) << key;
  return err;
}

TEST_F(UNetFixture, HeaderAndWeightsAgree) {
  EXPECT_EQ(reader_->metadata().at("format"), "contraseg-unet-fixture");
  EXPECT_EQ(reader_->metadata().at("version"), "2");
  std::set<std::string> seen;
  for (const UNetConfig& cfg : {dice_config(), g1_config(), g2_config()}) {
    auto net = make_net(cfg, false);
    const ParamStore& store = net->params();
    for (size_t k = 0; k < store.num_params(); ++k) {
      const std::string& name = store.param_entry(k).name;
      ASSERT_TRUE(reader_->has("wstat." + name)) << "the fixture has no parameter " << name;
      const std::vector<double> ref = reader_->read_doubles("wstat." + name);
      const std::vector<double> got = stats(store.param_at(k).to_vector());
      for (int s = 0; s < 4; ++s)
        EXPECT_NEAR(got[s], ref[s], 1e-9 * std::max(1.0, std::fabs(ref[1]))) << name << " weight statistic " << s;
      seen.insert(name);
    }
  }
  // ... and the fixture has no parameter the models lack.
  int in_file = 0;
  for (const auto& n : reader_->names()) in_file += n.rfind("wstat.", 0) == 0;
  EXPECT_EQ(static_cast<int>(seen.size()), in_file);
}

// ---- dice: the whole U-Net with cs::dice_loss

TEST_F(UNetFixture, DiceTrainingModePass) {
  const PassCheck c{"dice", "train", true, 3e-2, 1e-4};
  auto net = make_net(dice_config(), false);
  Tensor logits = net->forward(read("dice.input"), RunMode::training());
  Tensor loss = dice_loss(logits, read("dice.labels"));
  backward(loss);
  check_pass(loss, logits, net->params(), c);

  // BN running statistics after this one forward pass (decay 0.99 from 0, unbiased variance).
  double bn_err = 0;
  int bn_layers = 0;
  for (const LayerSpec& L : net->layers()) {
    if (!L.bn) continue;
    ++bn_layers;
    for (const char* what : {"mean", "var"}) {
      const std::vector<double> ref = reader_->read_doubles("dice.train.bn." + L.name + "." + what);
      const std::vector<float> got = net->params().buffer(L.name + ".bn." + what).to_vector();
      ASSERT_EQ(got.size(), ref.size()) << L.name;
      double e = 0;
      for (size_t i = 0; i < got.size(); ++i) e = std::max(e, std::fabs(got[i] - ref[i]));
      e /= std::max(max_abs(ref), 1e-12);
      EXPECT_LE(e, kTol) << L.name << ".bn." << what;
      bn_err = std::max(bn_err, e);
    }
  }
  EXPECT_EQ(bn_layers, 28);
  std::printf("[fixture] dice.train: BN running statistics err %.2e\n", bn_err);
}

TEST_F(UNetFixture, DiceInferenceModePass) {
  const PassCheck c{"dice", "eval", false, kTol, 1e-5};
  auto net = make_net(dice_config(), true);
  Tensor logits = net->forward(read("dice.input"), RunMode::inference());
  Tensor loss = dice_loss(logits, read("dice.labels"));
  backward(loss);
  check_pass(loss, logits, net->params(), c);
}

TEST_F(UNetFixture, DiceAdamTrajectory) {
  auto net = make_net(dice_config(), false);
  Adam adam(net->params());  // lr 1e-3, TF defaults
  const std::vector<double> ref = reader_->read_doubles("dice.trajectory");
  ASSERT_EQ(ref.size(), 10u);
  const Tensor x = read("dice.input"), y = read("dice.labels");
  double worst = 0;
  for (size_t t = 0; t < ref.size(); ++t) {
    net->params().zero_grad();
    Tensor loss = dice_loss(net->forward(x, RunMode::training()), y);
    backward(loss);
    adam.step();
    const double got = loss.to_vector()[0];
    EXPECT_NEAR(got, ref[t], kTrajectoryTol * std::fabs(ref[t])) << "step " << t;
    worst = std::max(worst, std::fabs(got - ref[t]) / std::fabs(ref[t]));
  }
  EXPECT_EQ(adam.step_count(), 10);
  EXPECT_LT(ref.back(), ref.front() - 0.05);  // the fixture itself shows learning
  std::printf("[fixture] dice trajectory %.6f -> %.6f, worst relative err %.2e (PyTorch float32: %s)\n", ref.front(),
              ref.back(), worst, meta("dice.torch_f32_trajectory_max_rel_err").c_str());
}

// ---- the dice task in bf16 (autograd/precision.h: convolutions and GEMMs on bf16 operands,
// fp32 accumulation; BN, softmax, the loss and Adam in fp32), against the same float64 reference.
// The inference-mode pass is the well-conditioned one: measured (printed) output 2.1e-2, loss
// 2.5e-4, gradients 2.1e-1 relative L2 at worst (the deepest layers' small gradients, sums of
// many cancelling terms); bounds 5e-2, 2e-3, 3.5e-1. fp32 is 100x closer on every count. The
// training-mode pass is not compared: BN statistics over 8 values at the deepest level turn a
// few float32 ulps into 3e-2 (see the header), and bf16's rounding, 2^16 times larger, into
// order-1 gradient changes; the trajectory below covers training mode.

//
// Close is not enough: a bf16 that changed nothing would pass. So the bf16 logits must also differ
// from those of the same pass in fp32 by at least the unit roundoff of bf16 (2^-9, 8 significant
// bits; relative to max |fp32|): rounding every operand of 19 convolutions moves them by more
// (measured 2e-2), while the fp32 pass, repeated, gives the same logits to the bit.
constexpr double kBf16Roundoff = 1.0 / 512;

TEST_F(UNetFixture, DiceInferenceModePassInBf16) {
  const PassCheck c{"dice", "eval", true, 3.5e-1, 2e-3, 5e-2};
  auto net = make_net(dice_config(), true);
  Tensor logits;
  {
    const PrecisionScope bf16(Precision::BF16);
    logits = net->forward(read("dice.input"), RunMode::inference());
  }
  Tensor loss = dice_loss(logits, read("dice.labels"));
  backward(loss);
  check_loss(loss, c);
  const double out = check_output(logits, c), grad = check_gradients(net->params(), c);
  std::printf("[fixture] bf16 dice.eval: output err %.2e, worst gradient err %.2e (bounds %.0e, %.1e)\n", out, grad,
              c.out_tol, c.grad_tol);

  NoGradGuard no_tape;  // the same forward pass in fp32, twice
  const auto fp32_net = make_net(dice_config(), true);
  const std::vector<float> fp32 = fp32_net->forward(read("dice.input"), RunMode::inference()).to_vector();
  ASSERT_EQ(fp32_net->forward(read("dice.input"), RunMode::inference()).to_vector(), fp32);
  const std::vector<float> got = logits.to_vector();
  ASSERT_EQ(got.size(), fp32.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - fp32[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(fp32[i])));
  }
  EXPECT_GE(diff / scale, kBf16Roundoff) << "bf16 logits within " << diff / scale
                                         << " of fp32's: the pass did not run in bf16";
  std::printf("[fixture] bf16 dice.eval: logits differ from fp32 by %.2e of max |fp32| (at least %.1e)\n",
              diff / scale, kBf16Roundoff);
}

// 10 Adam steps in training mode, in bf16 against fp32 from the same start. Measured: 2.3e-2
// at worst (step 7); PyTorch's float32 run is itself 1.2e-2 from float64 (the metadata), since
// training mode amplifies rounding. Bound 5e-2 of fp32's loss per step.
TEST_F(UNetFixture, DiceAdamTrajectoryInBf16) {
  constexpr double kBf16TrajectoryTol = 5e-2;
  const std::vector<double> ref = reader_->read_doubles("dice.trajectory");
  const Tensor x = read("dice.input"), y = read("dice.labels");
  std::vector<double> losses[2];
  for (Precision p : {Precision::FP32, Precision::BF16}) {
    auto net = make_net(dice_config(), false);
    Adam adam(net->params());
    for (size_t t = 0; t < ref.size(); ++t) {
      net->params().zero_grad();
      Tensor loss;
      {
        const PrecisionScope scope(p);
        loss = dice_loss(net->forward(x, RunMode::training()), y);
      }
      backward(loss);
      adam.step();
      losses[p == Precision::BF16].push_back(loss.to_vector()[0]);
    }
  }
  double worst = 0, worst_ref = 0;
  for (size_t t = 0; t < ref.size(); ++t) {
    const double fp32 = losses[0][t], bf16 = losses[1][t];
    EXPECT_NEAR(bf16, fp32, kBf16TrajectoryTol * fp32) << "step " << t;
    worst = std::max(worst, std::fabs(bf16 - fp32) / fp32);
    worst_ref = std::max(worst_ref, std::fabs(bf16 - ref[t]) / ref[t]);
  }
  EXPECT_LT(losses[1].back(), losses[1].front() - 0.05);  // bf16 learns as well
  // ... and in bf16: its losses are not fp32's (the bound of DiceInferenceModePassInBf16).
  EXPECT_GE(worst, kBf16Roundoff) << "bf16 losses within " << worst << " of fp32's: the steps did not run in bf16";
  std::printf("[fixture] bf16 dice trajectory %.6f -> %.6f: worst relative difference %.2e from fp32 (bound %.0e), "
              "%.2e from the reference\n",
              losses[1].front(), losses[1].back(), worst, kBf16TrajectoryTol, worst_ref);
}

// ---- G^D through encoder + g1

// Runs encoder + g1 on x in `mode` and backpropagates G^D (`compat`, over `layout`).
void run_gd(UNet& net, const Tensor& x, const RunMode& mode, Compat compat,
            SlotLayout layout, Tensor* z_out, Tensor* loss_out) {
  EncoderOutput enc = net.encoder(x, mode);
  Tensor z = net.g1(enc.bottleneck, mode);
  GlobalContrastiveLoss gd(GlobalLossKind::GD, compat, std::move(layout), 0.1f);
  Tensor loss = gd(z);
  backward(loss);
  *z_out = z;
  *loss_out = loss;
}

// The reference batch: the fixture's 32 real slots, then 16 all-zero slots.
Tensor reference_gd_batch(const SafeTensorsReader& r) {
  std::vector<float> v = r.read_floats("gdr.input");
  const Shape s = r.info("gdr.input").shape;
  EXPECT_EQ(s[0], 32);
  v.resize(v.size() / 32 * 48, 0.0f);
  return Tensor::from_vector({48, s[1], s[2], s[3]}, v);
}

TEST_F(UNetFixture, GlobalPaperModePasses) {
  const int V = std::stoi(meta("gdp.volumes")), S = std::stoi(meta("gdp.partitions"));
  for (const PassCheck& c :
       {PassCheck{"gdp", "eval", false, kTol, 1e-5}, PassCheck{"gdp", "train", true, 5e-2, 1e-4}}) {
    const bool eval = c.pass == "eval";
    auto net = make_net(g1_config(), eval);
    Tensor z, loss;
    run_gd(*net, read("gdp.input"), eval ? RunMode::inference() : RunMode::training(), Compat::Paper,
           paper_partition_layout(V, S), &z, &loss);
    check_pass(loss, z, net->params(), c);
  }
}

TEST_F(UNetFixture, GlobalReferenceModePasses) {
  for (const PassCheck& c :
       {PassCheck{"gdr", "eval", false, kTol, 1e-5}, PassCheck{"gdr", "train", true, 1e-1, 1e-4}}) {
    const bool eval = c.pass == "eval";
    auto net = make_net(g1_config(), eval);
    Tensor z, loss;
    run_gd(*net, reference_gd_batch(*reader_), eval ? RunMode::inference() : RunMode::training(),
           Compat::Reference, reference_gd_layout(), &z, &loss);
    check_pass(loss, z, net->params(), c);
  }
}

// ---- L^R through the frozen encoder + decoder blocks 1..3 + g2

TEST_F(UNetFixture, LocalLRPasses) {
  const int images = std::stoi(meta("lr.images"));
  const int side = std::stoi(meta("lr.size")) >> (5 - std::stoi(meta("lr.block")));
  ASSERT_EQ(side, 8);
  // eval: every BN on running statistics; frozen: paper-mode stage 2 (encoder BN on running
  // statistics, decoder and g2 BN on batch statistics).
  for (const PassCheck& c :
       {PassCheck{"lr", "eval", false, kTol, 1e-5}, PassCheck{"lr", "frozen", false, kTol, 1e-5}}) {
    const RunMode mode = c.pass == "eval" ? RunMode::inference() : RunMode::frozen_encoder_bn();
    auto net = make_net(g2_config(), true);
    EXPECT_GT(net->params().freeze("enc_"), 0);
    const Tensor x = read("lr.input");
    ASSERT_EQ(x.dim(0), images);
    EncoderOutput enc = net->encoder(x, mode);  // frozen parameters: no gradient flows here
    Tensor g = net->g2(net->decoder_blocks(enc, 3, mode), mode);
    LocalContrastiveLoss lr(LocalLossOptions{LocalLossKind::LR, 3, 0.1f, -1}, images, side);
    Tensor loss = lr(g, net->g2_pred_weight());
    backward(loss);
    check_pass(loss, g, net->params(), c);
  }
}

}  // namespace
}  // namespace cs
