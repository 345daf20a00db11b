// record_op and the profiler's hook: every op's forward pass is one span, recorded or not; its
// backward pass is one span of the same name when the tape reaches it; the profiler derives
// shapes and memory traffic from what the span carries.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/record_op.h"
#include "experiments/profile/profiler.h"
#include "losses/segmentation.h"
#include "ops/ops.h"
#include "support/gradcheck.h"

namespace cs::test {
namespace {

// Logs each span as "name fwd" / "name bwd", with its FLOPs and shapes.
struct SpanLog : OpObserver {
  std::vector<std::string> spans, shapes;
  std::vector<double> flops;
  int open = 0;
  void begin(const OpEvent&) override { ++open; }
  void end(const OpEvent& e) override {
    --open;
    spans.push_back(std::string(e.name) + (e.backward ? " bwd" : " fwd"));
    shapes.push_back(spans.back() + " " + op_shapes(e));
    flops.push_back(e.flops);
  }
};

class RecordOp : public ::testing::Test {
 protected:
  void SetUp() override {
    Tape::get().clear();
    set_op_observer(&log);
  }
  void TearDown() override {
    set_op_observer(nullptr);
    Tape::get().clear();
  }
  SpanLog log;
};

// The forward of every op is seen, whether or not the tape records it.
TEST_F(RecordOp, EveryForwardIsOneSpan) {
  const Tensor x = random_tensor({2, 4, 4, 3}, 1);
  const Tensor w = random_tensor({5, 3, 3, 3}, 2);
  Tensor g = Tensor::full({5}, 1.0f), b = Tensor::zeros({5}), rm = Tensor::zeros({5}), rv = Tensor::full({5}, 1.0f);
  {
    NoGradGuard no_grad;
    Tensor h = relu(batch_norm(conv2d(x, w), g, b, rm, rv, true));
    Tensor c = concat_channels(upsample2x(maxpool2x2(h)), h);
    Tensor z = linear(flatten(c), random_tensor({4, 4 * 4 * 10}, 3));
    Tensor m = mul(softmax(z), z);
    Tensor s = add(m, scale(z, 2.0f));
    sum(s);
    mean(reshape(s, {8}));
    cosine_similarity(z, 0.5f);
    extract_regions(h, {{0, 0}}, 2);
    dice_loss(random_tensor({1, 2, 2, 3}, 4), random_tensor({1, 2, 2, 3}, 5, 0.0f, 1.0f));
  }
  EXPECT_EQ(log.spans,
            (std::vector<std::string>{"conv2d fwd", "batch_norm fwd", "relu fwd", "maxpool2x2 fwd", "upsample2x fwd",
                                      "concat fwd", "reshape fwd", "linear fwd", "softmax fwd", "mul fwd", "scale fwd",
                                      "add fwd", "sum fwd", "reshape fwd", "mean fwd", "cosine_similarity fwd",
                                      "extract_regions fwd", "dice_loss fwd"}));
  EXPECT_EQ(log.open, 0);
  EXPECT_EQ(Tape::get().size(), 0u);
  EXPECT_EQ(log.flops[0], 2.0 * 2 * 4 * 4 * 5 * 3 * 3 * 3);  // conv2d: 2 * N*H*W * Cout * KH*KW*Cin
}

// Shapes of every pass, forward and backward, in the order they run; the backward pass carries
// the backward FLOPs and dy in place of the output.
TEST_F(RecordOp, BackwardSpansCarryTheNameFlopsAndShapes) {
  Tensor x = random_tensor({2, 3}, 1);
  Tensor w = random_tensor({4, 3}, 2).set_requires_grad(true);
  Tensor loss = sum(linear(x, w));
  EXPECT_EQ(Tape::get().size(), 2u);
  backward(loss);
  EXPECT_EQ(log.shapes, (std::vector<std::string>{"linear fwd [2, 3] [4, 3] -> [2, 4]", "sum fwd [2, 4] -> [1]",
                                                  "sum bwd [2, 4] -> [1]", "linear bwd [2, 3] [4, 3] -> [2, 4]"}));
  EXPECT_EQ(log.flops, (std::vector<double>{2.0 * 2 * 3 * 4, 0, 0, 4.0 * 2 * 3 * 4}));
}

// A backward closure that is never reached (its output got no gradient) is no span.
TEST_F(RecordOp, UnusedBranchHasNoBackwardSpan) {
  Tensor x = random_tensor({3}, 1).set_requires_grad(true);
  Tensor unused = scale(x, 2.0f);
  (void)unused;
  Tensor loss = sum(relu(x));
  backward(loss);
  EXPECT_EQ(log.spans,
            (std::vector<std::string>{"scale fwd", "relu fwd", "sum fwd", "sum bwd", "relu bwd"}));
}

// Each tensor once: forward, inputs and output; backward, dy, the inputs and the gradient of each
// input that takes one.
TEST(OpTraffic, CountsEachTensorOnce) {
  const Tensor a = Tensor::zeros({2, 3}).set_requires_grad(true), b = Tensor::zeros({3}), y = Tensor::zeros({2});
  const std::vector<Tensor> in{a, b, Tensor()};
  EXPECT_EQ(op_traffic_bytes(OpEvent{"op", false, 0.0, in.data(), in.size(), y}), (6 + 3 + 2) * 4.0);
  EXPECT_EQ(op_traffic_bytes(OpEvent{"op", true, 0.0, in.data(), in.size(), y}), (2 + 6 + 6 + 3) * 4.0);
  EXPECT_EQ(op_shapes(OpEvent{"op", false, 0.0, in.data(), in.size(), y}), "[2, 3] [3] -> [2]");
}

}  // namespace
}  // namespace cs::test
