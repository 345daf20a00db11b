// batch_norm over (N,H,W) per channel: training (batch statistics, running-stat update with
// decay and the unbiased variance) and inference (running statistics), gradients, precision at a
// large mean, bad shapes; then CUDA parity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "op_check.h"
#include "ops/batch_norm.h"
#include "ops/ops.h"
#include "parity_table.h"

namespace cs::test {
namespace {

// Gradients through the batch statistics involve cancelling sums: 1e-4 of the largest element.
constexpr double kFwdTol = 1e-5, kGradTol = 1e-4;

OpCheck bn_train_check(const Shape& xs, uint64_t seed, float eps = 1e-3f) {
  const int64_t C = xs.back();
  Tensor x = random_tensor(xs, seed, -2.0f, 3.0f).set_requires_grad(true);
  Tensor gamma = random_tensor({C}, seed + 1, 0.5f, 1.5f).set_requires_grad(true);
  Tensor beta = random_tensor({C}, seed + 2).set_requires_grad(true);
  Tensor rm = Tensor::zeros({C}), rv = Tensor::zeros({C});
  return check_op(
      [=](const std::vector<Tensor>& t) mutable { return batch_norm(t[0], t[1], t[2], rm, rv, true, 0.99f, eps); },
      [=](const std::vector<Vec>& v) { return ref::batch_norm_train(v[0], C, v[1], v[2], eps); },
      {x, gamma, beta}, seed + 3);
}

TEST(BatchNorm, TrainForwardAndGradients) {
  EXPECT_TRUE(op_ok(bn_train_check({2, 3, 4, 5}, 10), kFwdTol, kGradTol));
  EXPECT_TRUE(op_ok(bn_train_check({6, 3}, 20), kFwdTol, kGradTol));  // [N, C], as after flatten
  EXPECT_TRUE(op_ok(bn_train_check({2, 5, 3, 16}, 30, 1e-5f), kFwdTol, kGradTol));
}

TEST(BatchNorm, InferForwardAndGradients) {
  const Shape xs{2, 3, 3, 4};
  Tensor x = random_tensor(xs, 40, -2.0f, 2.0f).set_requires_grad(true);
  Tensor gamma = random_tensor({4}, 41, 0.5f, 1.5f).set_requires_grad(true);
  Tensor beta = random_tensor({4}, 42).set_requires_grad(true);
  Tensor rm = random_tensor({4}, 43), rv = random_tensor({4}, 44, 0.2f, 2.0f);
  const Vec rmv = to_double(rm), rvv = to_double(rv);
  const OpCheck r = check_op(
      [=](const std::vector<Tensor>& t) mutable { return batch_norm(t[0], t[1], t[2], rm, rv, false); },
      [=](const std::vector<Vec>& v) { return ref::batch_norm_infer(v[0], 4, v[1], v[2], rmv, rvv, 1e-3); },
      {x, gamma, beta}, 45);
  EXPECT_TRUE(op_ok(r, kFwdTol, kGradTol));
  // Inference never touches the running statistics.
  EXPECT_EQ(rm.to_vector(), std::vector<float>(rmv.begin(), rmv.end()));
  EXPECT_EQ(rv.to_vector(), std::vector<float>(rvv.begin(), rvv.end()));
}

// r <- decay*r + (1-decay)*batch, with the unbiased batch variance for r_var; the saved
// statistics are the batch mean and 1/sqrt(biased var + eps).
TEST(BatchNorm, RunningStatisticsUpdate) {
  const int64_t C = 3;
  const Shape xs{2, 2, 3, C};
  const int64_t M = 2 * 2 * 3;
  Tensor x = random_tensor(xs, 50, -1.0f, 4.0f);
  Tensor gamma = random_tensor({C}, 51), beta = random_tensor({C}, 52);
  Tensor rm = random_tensor({C}, 53), rv = random_tensor({C}, 54, 0.5f, 1.5f);
  const Vec rm0 = to_double(rm), rv0 = to_double(rv);
  Tensor y = Tensor::empty(xs), mean = Tensor::empty({C}), invstd = Tensor::empty({C});
  const float decay = 0.9f, eps = 1e-3f;
  cpu::batch_norm_forward_train(x, gamma, beta, false, y, mean, invstd, rm, rv, decay, eps);
  Vec bm, bv;
  ref::batch_norm_train(to_double(x), C, to_double(gamma), to_double(beta), eps, &bm, &bv);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(mean.to_vector()[c], bm[c], 1e-6);
    EXPECT_NEAR(invstd.to_vector()[c], 1.0 / std::sqrt(bv[c] + eps), 1e-5);
    EXPECT_NEAR(rm.to_vector()[c], decay * rm0[c] + (1 - decay) * bm[c], 1e-6);
    const double unbiased = bv[c] * M / (M - 1);
    EXPECT_NEAR(rv.to_vector()[c], decay * rv0[c] + (1 - decay) * unbiased, 1e-6);
  }
  // Through the differentiable op, the default decay 0.99 applies, starting from zero shadows.
  Tensor rm2 = Tensor::zeros({C}), rv2 = Tensor::zeros({C});
  batch_norm(x, gamma, beta, rm2, rv2, true);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(rm2.to_vector()[c], 0.01 * bm[c], 1e-7);
    EXPECT_NEAR(rv2.to_vector()[c], 0.01 * bv[c] * M / (M - 1), 1e-7);
  }
}

// A large offset against a small spread: the kernel must centre before scaling.
TEST(BatchNorm, LargeMeanKeepsPrecision) {
  const int64_t C = 4;
  Tensor x = random_tensor({3, 5, 5, C}, 60, 999.0f, 1001.0f);
  Tensor gamma = Tensor::full({C}, 1.0f), beta = Tensor::zeros({C});
  Tensor rm = Tensor::zeros({C}), rv = Tensor::zeros({C});
  Tensor y = batch_norm(x, gamma, beta, rm, rv, true);
  const Vec want = ref::batch_norm_train(to_double(x), C, Vec(C, 1.0), Vec(C, 0.0), 1e-3);
  EXPECT_LT(normalized_error(want, to_double(y)), 1e-4);
}

// Values within 0.25 of 1000: x^2 ~ 1e6 carries a float32 rounding error of ~0.03, more than the
// variance (~0.02), so statistics computed as E[x^2] - E[x]^2 in float32 come out wrong by 100%
// and fail both checks below. What float32 allows: the batch mean itself is rounded to half an
// ulp of 1000 (3e-5, 2e-4 of the spread), which bounds y; the variance is exact to rounding.
TEST(BatchNorm, MeanNearThousandMatchesDoubleReference) {
  const int64_t C = 8, M = 4 * 16 * 16;
  Tensor x = random_tensor({4, 16, 16, C}, 61, 999.75f, 1000.25f);
  Tensor gamma = random_tensor({C}, 62, 0.5f, 1.5f), beta = random_tensor({C}, 63);
  Tensor rm = Tensor::zeros({C}), rv = Tensor::zeros({C});
  const float eps = 1e-5f;
  Tensor y = batch_norm(x, gamma, beta, rm, rv, true, /*decay=*/0.0f, eps);  // decay 0: rm, rv = batch
  Vec mean, var;
  const Vec want = ref::batch_norm_train(to_double(x), C, to_double(gamma), to_double(beta), eps, &mean, &var);
  EXPECT_LT(normalized_error(want, to_double(y)), 1e-3);
  const std::vector<float> rmv = rm.to_vector(), rvv = rv.to_vector();
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(rmv[c], mean[c], 1e-4) << "channel " << c;
    const double unbiased = var[c] * M / (M - 1);
    EXPECT_NEAR(rvv[c], unbiased, 1e-5 * unbiased) << "channel " << c;
  }
}

TEST(BatchNorm, BackwardKernelSkipsNullOutputs) {
  const int64_t C = 2;
  Tensor x = random_tensor({4, 3, C}, 70), gamma = random_tensor({C}, 71), beta = random_tensor({C}, 73);
  Tensor mean = Tensor::from_vector({C}, {0.1f, -0.2f}), invstd = Tensor::from_vector({C}, {1.5f, 0.7f});
  Tensor dy = random_tensor({4, 3, C}, 72);
  std::vector<float> dg(C), db(C), dg2(C, 5.0f), db2(C);
  cpu::batch_norm_backward_train(x, gamma, beta, false, mean, invstd, dy, static_cast<float*>(nullptr), 0, dg.data(), 0, db.data(), 0);
  cpu::batch_norm_backward_train(x, gamma, beta, false, mean, invstd, dy, static_cast<float*>(nullptr), 0, dg2.data(), 1, nullptr, 0);
  for (int64_t c = 0; c < C; ++c) EXPECT_NEAR(dg2[c], dg[c] + 5.0f, 1e-5f);
  // dbeta is the plain sum of dy per channel.
  const std::vector<float> d = dy.to_vector();
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (size_t i = c; i < d.size(); i += C) s += d[i];
    EXPECT_NEAR(db[c], s, 1e-5);
  }
}

// Large enough for the threaded statistics (per-thread partial sums over row ranges); 16
// channels (one register block of the per-channel sums) and 48 (three blocks, over row tiles
// that do not divide the threads' row ranges).
TEST(BatchNorm, ThreadedSizesMatchReference) {
  for (const int64_t C : {16, 48}) {
    Tensor x = random_tensor({4, 32, 32, C}, 80, -1.0f, 3.0f).set_requires_grad(true);
    Tensor gamma = random_tensor({C}, 81, 0.5f, 1.5f).set_requires_grad(true);
    Tensor beta = random_tensor({C}, 82).set_requires_grad(true);
    Tensor rm = random_tensor({C}, 83), rv = random_tensor({C}, 84, 0.5f, 2.0f);
    const Vec rmv = to_double(rm), rvv = to_double(rv);
    for (bool training : {true, false}) {
      const std::vector<double> r = check_op_directional(
          [=](const std::vector<Tensor>& t) mutable {
            Tensor m = rm.clone(), v = rv.clone();  // the same statistics at every call
            return batch_norm(t[0], t[1], t[2], m, v, training);
          },
          [=](const std::vector<Vec>& v) {
            return training ? ref::batch_norm_train(v[0], C, v[1], v[2], 1e-3)
                            : ref::batch_norm_infer(v[0], C, v[1], v[2], rmv, rvv, 1e-3);
          },
          {x, gamma, beta}, 85);
      EXPECT_LT(r[0], kFwdTol) << "C " << C << ", training " << training;
      for (size_t i = 1; i < r.size(); ++i)
        EXPECT_LT(r[i], kGradTol) << "C " << C << ", training " << training << ", input " << i - 1;
    }
  }
}

// relu(bn(x)) against the double reference, with finite-difference gradients; the inputs straddle
// zero after normalisation, so about half the outputs are clipped.
TEST(BatchNormRelu, ForwardAndGradientsInBothModes) {
  const int64_t C = 5;
  Tensor x = random_tensor({2, 3, 4, C}, 90, -2.0f, 3.0f).set_requires_grad(true);
  Tensor gamma = random_tensor({C}, 91, 0.5f, 1.5f).set_requires_grad(true);
  Tensor beta = random_tensor({C}, 92, -0.3f, 0.3f).set_requires_grad(true);
  Tensor rm = random_tensor({C}, 93), rv = random_tensor({C}, 94, 0.5f, 2.0f);
  const Vec rmv = to_double(rm), rvv = to_double(rv);
  const auto relu_ref = [](Vec v) {
    for (double& e : v) e = std::max(e, 0.0);
    return v;
  };
  for (bool training : {true, false}) {
    const OpCheck r = check_op(
        [=](const std::vector<Tensor>& t) mutable {
          Tensor m = rm.clone(), v = rv.clone();
          return batch_norm_relu(t[0], t[1], t[2], m, v, training);
        },
        [=](const std::vector<Vec>& v) {
          return relu_ref(training ? ref::batch_norm_train(v[0], C, v[1], v[2], 1e-3)
                                   : ref::batch_norm_infer(v[0], C, v[1], v[2], rmv, rvv, 1e-3));
        },
        {x, gamma, beta}, 95);
    EXPECT_TRUE(op_ok(r, kFwdTol, kGradTol)) << "training " << training;
  }
}

// The fused op is the unfused pair, bit for bit: outputs, all three gradients and the running
// statistics, at a size that runs the threaded loops, in both modes.
TEST(BatchNormRelu, EqualsUnfusedBitForBit) {
  const int64_t C = 24;
  const Shape xs{4, 24, 24, C};
  Tensor gamma = random_tensor({C}, 101, 0.5f, 1.5f), beta = random_tensor({C}, 102, -0.5f, 0.5f);
  Tensor x = random_tensor(xs, 100, -2.0f, 3.0f), dy = random_tensor(xs, 103);
  Tensor rm0 = random_tensor({C}, 104), rv0 = random_tensor({C}, 105, 0.5f, 2.0f);
  for (bool training : {true, false}) {
    std::vector<std::vector<float>> got[2];
    for (int fused = 0; fused < 2; ++fused) {
      Tensor xi = x.clone().set_requires_grad(true);
      Tensor g = gamma.clone().set_requires_grad(true), b = beta.clone().set_requires_grad(true);
      Tensor rm = rm0.clone(), rv = rv0.clone();
      Tensor y = fused ? batch_norm_relu(xi, g, b, rm, rv, training)
                       : relu(batch_norm(xi, g, b, rm, rv, training));
      Tensor loss = sum(mul(y, dy));
      backward(loss);
      got[fused] = {y.to_vector(), xi.grad().to_vector(), g.grad().to_vector(), b.grad().to_vector(),
                    rm.to_vector(), rv.to_vector()};
    }
    const char* what[] = {"output", "dx", "dgamma", "dbeta", "running mean", "running var"};
    for (size_t i = 0; i < got[0].size(); ++i) EXPECT_EQ(got[1][i], got[0][i]) << what[i] << ", training " << training;
    // Both masks are in play: some outputs clipped, some not.
    const std::vector<float>& out = got[1][0];
    const auto zeros = std::count(out.begin(), out.end(), 0.0f);
    EXPECT_GT(zeros, static_cast<long>(out.size() / 10));
    EXPECT_LT(zeros, static_cast<long>(out.size() * 9 / 10));
  }
}

TEST(BatchNorm, BadShapesThrow) {
  Tensor x = random_tensor({2, 3, 3, 4}, 1);
  Tensor g4 = Tensor::full({4}, 1.0f), b4 = Tensor::zeros({4}), g3 = Tensor::full({3}, 1.0f);
  Tensor rm = Tensor::zeros({4}), rv = Tensor::zeros({4}), rm3 = Tensor::zeros({3});
  EXPECT_THROW(batch_norm(x, g3, b4, rm, rv, true), std::invalid_argument);
  EXPECT_THROW(batch_norm(x, g4, b4, rm3, rv, true), std::invalid_argument);
  EXPECT_THROW(batch_norm(random_tensor({4}, 2), g4, b4, rm, rv, true), std::invalid_argument);
  EXPECT_THROW(batch_norm(Tensor(), g4, b4, rm, rv, false), std::invalid_argument);
  // Training needs a row to take statistics over; inference of no rows is fine.
  EXPECT_THROW(batch_norm(Tensor::zeros({0, 4}), g4, b4, rm, rv, true), std::invalid_argument);
  EXPECT_EQ(batch_norm(Tensor::zeros({0, 4}), g4, b4, rm, rv, false).shape(), (Shape{0, 4}));
}

}  // namespace
}  // namespace cs::test

// CUDA batch norm parity cases (parity_table.h): training (batch statistics, gradients through
// them, running-statistics update) and inference (running statistics), over channel counts that
// hit the different block shapes of the per-channel reduction (C = 1, 3, 16, 40, 64).
namespace cs::cudatest {
namespace {

OpFn bn_train(int64_t C, float eps = 1e-3f) {
  return [C, eps](const std::vector<Tensor>& t) {
    Tensor rm = Tensor::zeros({C}, t[0].device()), rv = Tensor::zeros({C}, t[0].device());
    return batch_norm(t[0], t[1], t[2], rm, rv, true, 0.99f, eps);
  };
}

OpFn bn_relu(int64_t C, bool training) {
  return [C, training](const std::vector<Tensor>& t) {
    Tensor rm = Tensor::zeros({C}, t[0].device()), rv = Tensor::full({C}, 1.0f, t[0].device());
    return batch_norm_relu(t[0], t[1], t[2], rm, rv, training);
  };
}

OpFn bn_infer(int64_t C, uint64_t seed) {
  const std::vector<float> rm = uniform(C, seed, -1.0f, 1.0f), rv = uniform(C, seed + 1, 0.2f, 2.0f);
  return [C, rm, rv](const std::vector<Tensor>& t) {
    Tensor m = Tensor::from_vector({C}, rm, t[0].device()), v = Tensor::from_vector({C}, rv, t[0].device());
    return batch_norm(t[0], t[1], t[2], m, v, false);
  };
}

std::vector<Input> bn_inputs(const Shape& xs, uint64_t seed, float lo = -2.0f, float hi = 3.0f) {
  const int64_t C = xs.back();
  return {input(xs, seed, lo, hi), input({C}, seed + 1, 0.5f, 1.5f), input({C}, seed + 2)};
}

std::vector<Input> frozen(std::vector<Input> in, std::initializer_list<size_t> which) {
  for (size_t i : which) in[i].requires_grad = false;
  return in;
}

}  // namespace

Cases bn_train_cases() {
  return {
      {"train [2,5,6,3]", bn_train(3), bn_inputs({2, 5, 6, 3}, 1)},
      {"train [7,40]", bn_train(40), bn_inputs({7, 40}, 4)},
      {"train [3,4,4,64]", bn_train(64), bn_inputs({3, 4, 4, 64}, 7)},
      {"train [5,3,3,1]", bn_train(1), bn_inputs({5, 3, 3, 1}, 10)},
      // Many rows (several blocks of partial sums) and a mean far from zero.
      {"train [4,32,32,16], mean ~ 3", bn_train(16), bn_inputs({4, 32, 32, 16}, 13, 2.0f, 4.0f)},
      // Mean ~ 1000 against a spread of 0.5: moments taken in one float32 pass (E[x^2] - E[x]^2)
      // would lose the variance altogether.
      {"train [4,32,32,16], mean ~ 1000", bn_train(16), bn_inputs({4, 32, 32, 16}, 46, 999.75f, 1000.25f)},
      {"train [7,40], mean ~ -1000", bn_train(40), bn_inputs({7, 40}, 49, -1000.25f, -999.75f)},
  };
}

Cases bn_relu_cases() {
  return {
      {"relu train [3,4,4,64]", bn_relu(64, true), bn_inputs({3, 4, 4, 64}, 51)},
      {"relu train [4,32,32,16]", bn_relu(16, true), bn_inputs({4, 32, 32, 16}, 54)},
      {"relu infer [2,5,6,3]", bn_relu(3, false), bn_inputs({2, 5, 6, 3}, 57)},
  };
}

Cases bn_train_partial_cases() {
  return {
      {"train, x only", bn_train(8), frozen(bn_inputs({2, 4, 4, 8}, 16), {1, 2})},
      {"train, gamma and beta only", bn_train(8), frozen(bn_inputs({2, 4, 4, 8}, 19), {0})},
  };
}

Cases bn_infer_cases() {
  return {
      {"infer [2,5,6,3]", bn_infer(3, 22), bn_inputs({2, 5, 6, 3}, 24)},
      {"infer [3,4,4,64]", bn_infer(64, 27), bn_inputs({3, 4, 4, 64}, 29)},
      {"infer, gamma and beta only", bn_infer(40, 35), frozen(bn_inputs({2, 3, 3, 40}, 32), {0})},
      {"infer, x only", bn_infer(40, 40), frozen(bn_inputs({2, 3, 3, 40}, 37), {1, 2})},
  };
}

Cases bn_running_statistics_cases() {
  // r <- decay*r + (1-decay)*batch (unbiased variance for r_var), over two steps from random
  // starting values; inference leaves the statistics alone. Inputs: x1, x2, gamma, beta and the
  // starting statistics, none taking a gradient; the output is one of the final statistics.
  const int64_t C = 24;
  const Shape xs{3, 5, 4, C};
  const std::vector<Input> in = {input(xs, 42, -1.0f, 3.0f, false), input(xs, 43, -1, 1, false),
                                 input({C}, 44, 0.5f, 1.5f, false), input({C}, 45, -1, 1, false),
                                 input({C}, 46, -1, 1, false),      input({C}, 47, 0.5f, 1.5f, false)};
  const auto statistic = [](bool variance) -> OpFn {
    return [variance](const std::vector<Tensor>& t) {
      Tensor rm = t[4].clone(), rv = t[5].clone();
      batch_norm(t[0], t[2], t[3], rm, rv, true, 0.9f);
      batch_norm(t[1], t[2], t[3], rm, rv, true, 0.9f);
      batch_norm(t[1], t[2], t[3], rm, rv, false);
      // The statistics moved (a test that passes with untouched buffers would prove nothing).
      EXPECT_GT(normalized_error(rm.to_vector(), t[4].to_vector()), 1e-3) << device_name(t[0].device());
      return variance ? rv : rm;
    };
  };
  return {{"running mean", statistic(false), in, 1e-5}, {"running variance", statistic(true), in, 1e-5}};
}

}  // namespace cs::cudatest
