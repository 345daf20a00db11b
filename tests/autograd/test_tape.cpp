// The tape: recording rules, clearing, frozen parameters, unused branches, bad losses, the
// gradient a closure receives; grad_out's buffer and beta.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "autograd/grad_out.h"
#include "autograd/record_op.h"
#include "autograd/tape.h"
#include "ops/ops.h"
#include "support/gradcheck.h"

namespace cs {
namespace {

using test::random_tensor;

// Records the names of the backward closures the tape runs.
struct BackwardLog : OpObserver {
  std::vector<std::string> names;
  void begin(const OpEvent& e) override {
    if (e.backward) names.push_back(e.name);
  }
  void end(const OpEvent&) override {}
};

struct ObserverGuard {
  explicit ObserverGuard(OpObserver* o) { set_op_observer(o); }
  ~ObserverGuard() { set_op_observer(nullptr); }
};

class TapeTest : public ::testing::Test {
 protected:
  void SetUp() override { Tape::get().clear(); }
  void TearDown() override { Tape::get().clear(); }
};

TEST_F(TapeTest, RecordsOnlyWhenAnInputRequiresGrad) {
  Tensor c = random_tensor({3}, 1);
  relu(c);
  EXPECT_EQ(Tape::get().size(), 0u);
  Tensor x = random_tensor({3}, 2).set_requires_grad(true);
  Tensor y = relu(add(x, c));
  EXPECT_EQ(Tape::get().size(), 2u);
  EXPECT_TRUE(y.requires_grad());
}

TEST_F(TapeTest, NoGradGuardRecordsNothing) {
  Tensor x = random_tensor({4}, 3).set_requires_grad(true);
  {
    NoGradGuard guard;
    Tensor y = scale(relu(x), 2.0f);
    EXPECT_EQ(Tape::get().size(), 0u);
    EXPECT_FALSE(y.requires_grad());
    {
      NoGradGuard nested;
    }
    relu(x);  // still off after a nested guard ends
    EXPECT_EQ(Tape::get().size(), 0u);
  }
  relu(x);  // back on
  EXPECT_EQ(Tape::get().size(), 1u);
}

TEST_F(TapeTest, ClearedAfterBackward) {
  Tensor x = random_tensor({2, 3}, 4).set_requires_grad(true);
  Tensor loss = sum(relu(x));
  EXPECT_EQ(Tape::get().size(), 2u);
  backward(loss);
  EXPECT_EQ(Tape::get().size(), 0u);
  // The closures (and what they held) are gone: only this test holds x's data now.
  EXPECT_EQ(x.impl_ptr().use_count(), 1);
}

TEST_F(TapeTest, FrozenParametersGetNoGradient) {
  Tensor x = random_tensor({2, 4}, 5).set_requires_grad(true);
  Tensor w = random_tensor({3, 4}, 6);  // frozen
  Tensor loss = sum(linear(x, w));
  backward(loss);
  EXPECT_TRUE(x.has_grad());
  EXPECT_FALSE(w.has_grad());
  EXPECT_FALSE(w.grad().defined());
  // d sum(x w^T)/dx[n,k] = sum_o w[o,k]
  const std::vector<float> g = x.grad().to_vector(), wv = w.to_vector();
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(g[n * 4 + k], wv[k] + wv[4 + k] + wv[8 + k], 1e-6f);
}

TEST_F(TapeTest, BranchNotReachingTheLossIsSkipped) {
  Tensor x = Tensor::from_vector({4}, {-1, 2, -3, 4}).set_requires_grad(true);
  Tensor used = relu(x);
  Tensor unused = scale(x, 5.0f);  // recorded, but the loss does not depend on it
  (void)unused;
  Tensor loss = sum(used);
  BackwardLog log;
  ObserverGuard og(&log);
  backward(loss);
  EXPECT_EQ(log.names, (std::vector<std::string>{"sum", "relu"}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0, 1, 0, 1}));
  EXPECT_EQ(Tape::get().size(), 0u);
}

TEST_F(TapeTest, TensorUsedTwiceAccumulatesBothPaths) {
  Tensor x = Tensor::from_vector({3}, {-1, 2, 3}).set_requires_grad(true);
  Tensor loss = sum(add(relu(x), scale(x, 3.0f)));
  backward(loss);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3, 4, 4}));
}

TEST_F(TapeTest, ZeroGradThenBackwardOverwrites) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor l1 = sum(scale(x, 2.0f));
  backward(l1);
  Tensor l2 = sum(scale(x, 2.0f));
  backward(l2);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4, 4}));
  x.zero_grad();
  Tensor l3 = sum(scale(x, 2.0f));
  backward(l3);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 2}));
}

TEST_F(TapeTest, BackwardOnNonScalarThrows) {
  Tensor x = random_tensor({3}, 7).set_requires_grad(true);
  Tensor y = relu(x);
  EXPECT_THROW(backward(y), std::invalid_argument);
}

TEST_F(TapeTest, BackwardOnConstantThrows) {
  Tensor c = sum(random_tensor({3}, 8));
  EXPECT_THROW(backward(c), std::invalid_argument);
}

TEST_F(TapeTest, FailedBackwardClearsTheTape) {
  Tensor x = random_tensor({3}, 9).set_requires_grad(true);
  Tensor y = relu(x);
  // A node whose closure throws.
  Tape::get().record(y, [](const Tensor&) { throw std::runtime_error("broken closure"); });
  Tensor loss = sum(y);
  EXPECT_THROW(backward(loss), std::runtime_error);
  EXPECT_EQ(Tape::get().size(), 0u);
  EXPECT_TRUE(Tape::get().enabled());
}

TEST_F(TapeTest, ClosureReceivesItsOutputGradient) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor y = Tensor::zeros({2});
  std::vector<float> seen;
  Tape::get().record(y, [&seen](const Tensor& dy) { seen = dy.to_vector(); });
  Tensor loss = sum(scale(y, 3.0f));
  backward(loss);
  EXPECT_EQ(seen, (std::vector<float>{3, 3}));
}

// The seed d(loss)/d(loss) = 1 is written over whatever the loss's gradient buffer held.
TEST_F(TapeTest, SeedIsOneWhateverTheLossGradientHeld) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor loss = sum(x);
  float beta = 0.0f;
  loss.grad_for_write(&beta);
  loss.grad().fill_(std::numeric_limits<float>::quiet_NaN());
  backward(loss);
  EXPECT_EQ(loss.grad().to_vector(), (std::vector<float>{1}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1, 1}));
}

TEST(GradOut, NullWithoutGradientThenOverwriteThenAccumulate) {
  EXPECT_EQ(grad_out(Tensor()).ptr, nullptr);
  Tensor c = Tensor::zeros({3});
  EXPECT_EQ(grad_out(c).ptr, nullptr);
  EXPECT_FALSE(c.has_grad());
  Tensor p = Tensor::zeros({3}).set_requires_grad(true);
  const GradOut first = grad_out(p);
  ASSERT_NE(first.ptr, nullptr);
  EXPECT_EQ(first.beta, 0.0f);  // a fresh buffer holds garbage: overwrite
  const GradOut second = grad_out(p);
  EXPECT_EQ(second.ptr, first.ptr);
  EXPECT_EQ(second.beta, 1.0f);  // written once already: accumulate
  p.zero_grad();
  EXPECT_EQ(grad_out(p).beta, 0.0f);
}

}  // namespace
}  // namespace cs
