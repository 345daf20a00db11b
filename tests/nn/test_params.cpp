// ParamStore: one arena per kind, named views, gradient views, zero_grad, freezing, spans.
#include <gtest/gtest.h>

#include <stdexcept>

#include "autograd/tape.h"
#include "nn/params.h"
#include "ops/ops.h"

namespace cs {
namespace {

void declare_small(ParamStore& s) {
  s.declare_param("enc_a.w", {4, 3, 3, 2}, ParamKind::ConvWeight);  // 72 floats
  s.declare_param("enc_a.b", {4}, ParamKind::ConvBias);
  s.declare_param("dec_a.w", {3, 5}, ParamKind::DenseWeight);       // 15 floats
  s.declare_buffer("enc_a.bn.mean", {4}, ParamKind::BNMean);
}

TEST(ParamStore, ViewsLiveInOneAlignedArena) {
  ParamStore s;
  declare_small(s);
  s.allocate();
  ASSERT_EQ(s.num_params(), 3u);
  EXPECT_EQ(s.param_count(), 72 + 4 + 15);
  const float* base = s.param_arena().data();
  for (size_t i = 0; i < s.num_params(); ++i) {
    const Tensor& p = s.param_at(i);
    EXPECT_EQ(p.data(), base + s.param_entry(i).offset);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data()) % 64, 0u) << s.param_entry(i).name;
    EXPECT_EQ(p.shape(), s.param_entry(i).shape);
    EXPECT_TRUE(p.requires_grad());
    EXPECT_EQ(p.name(), s.param_entry(i).name);
  }
  // Offsets are increasing and do not overlap.
  EXPECT_GE(s.param_entry(1).offset, s.param_entry(0).offset + 72);
  EXPECT_GE(s.param_entry(2).offset, s.param_entry(1).offset + 4);
  EXPECT_GE(s.param_arena_floats(), s.param_entry(2).offset + 15);
  // Writing through a view writes the arena.
  s.param("dec_a.w").fill_(2.5f);
  EXPECT_EQ(s.param_arena().data()[s.param_entry(2).offset + 14], 2.5f);
  EXPECT_EQ(s.buffer("enc_a.bn.mean").data(), s.buffer_arena().data());
  EXPECT_EQ(s.param_names("enc_").size(), 2u);
  EXPECT_EQ(s.buffer_names().size(), 1u);
}

TEST(ParamStore, GradientsGoToTheGradArenaAndZeroGradClears) {
  ParamStore s;
  declare_small(s);
  s.allocate();
  Tensor& w = s.param("dec_a.w");
  w.fill_(1.0f);
  Tensor x = Tensor::full({2, 5}, 3.0f);
  for (int rep = 0; rep < 2; ++rep) {  // the second backward accumulates
    Tensor y = sum(linear(x, w));
    backward(y);
  }
  const Tensor g = s.grad("dec_a.w");
  EXPECT_EQ(g.data(), s.grad_arena().data() + s.param_entry(2).offset);
  EXPECT_EQ(w.grad().data(), g.data());
  for (float v : g.to_vector()) EXPECT_FLOAT_EQ(v, 2 * 2 * 3.0f);  // 2 rows of x, 2 passes
  s.zero_grad();
  for (float v : s.grad_arena().to_vector()) EXPECT_EQ(v, 0.0f);
  Tensor y = sum(linear(x, w));
  backward(y);
  for (float v : g.to_vector()) EXPECT_FLOAT_EQ(v, 2 * 3.0f);  // after zero_grad: accumulates onto 0
}

TEST(ParamStore, ZeroGradReattachesADroppedGradient) {
  ParamStore s;
  declare_small(s);
  s.allocate();
  Tensor& w = s.param("dec_a.w");
  w.clear_grad();
  s.zero_grad();
  Tensor y = sum(linear(Tensor::full({1, 5}, 1.0f), w));
  backward(y);
  EXPECT_EQ(w.grad().data(), s.grad("dec_a.w").data());
}

TEST(ParamStore, FreezeByPrefixAndSpans) {
  ParamStore s;
  declare_small(s);
  s.allocate();
  EXPECT_EQ(s.trainable_param_count(), 91);
  auto spans = s.trainable_spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].first, 0u);
  EXPECT_EQ(spans[0].second, s.param_arena_floats());
  EXPECT_EQ(s.freeze("enc_"), 2);
  EXPECT_FALSE(s.param("enc_a.w").requires_grad());
  EXPECT_FALSE(s.param("enc_a.b").requires_grad());
  EXPECT_TRUE(s.param("dec_a.w").requires_grad());
  EXPECT_EQ(s.trainable_param_count(), 15);
  spans = s.trainable_spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].first, s.param_entry(2).offset);
  s.unfreeze("enc_a.b");
  spans = s.trainable_spans();
  ASSERT_EQ(spans.size(), 1u);  // enc_a.b and dec_a.w are neighbours
  EXPECT_EQ(spans[0].first, s.param_entry(1).offset);
  s.freeze("enc_a.b");
  s.unfreeze("enc_a.w");
  EXPECT_EQ(s.trainable_spans().size(), 2u);
  EXPECT_THROW(s.freeze("nope_"), std::invalid_argument);
}

TEST(ParamStore, ClearErrors) {
  ParamStore s;
  s.declare_param("a.w", {2}, ParamKind::ConvBias);
  EXPECT_THROW(s.declare_param("a.w", {3}, ParamKind::ConvBias), std::invalid_argument);
  EXPECT_THROW(s.declare_buffer("a.w", {3}, ParamKind::BNMean), std::invalid_argument);
  EXPECT_THROW(s.param("a.w"), std::logic_error);  // before allocate
  s.allocate();
  EXPECT_THROW(s.declare_param("b.w", {2}, ParamKind::ConvBias), std::logic_error);
  EXPECT_THROW(s.allocate(), std::logic_error);
  try {
    s.param("missing.w");
    FAIL();
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("missing.w"), std::string::npos);
  }
}

TEST(ParamStore, CudaDeviceMoveKeepsHandlesAndValues) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  ParamStore s;
  declare_small(s);
  s.allocate();
  Tensor w = s.param("enc_a.w");  // a handle kept by a model
  w.fill_(0.75f);
  s.buffer("enc_a.bn.mean").fill_(-1.0f);
  s.to(Device::CUDA);
  EXPECT_EQ(w.device(), Device::CUDA);
  EXPECT_EQ(s.grad("enc_a.w").device(), Device::CUDA);
  EXPECT_EQ(w.data(), s.param_arena().data() + s.param_entry(0).offset);
  s.to(Device::CPU);
  for (float v : w.to_vector()) EXPECT_EQ(v, 0.75f);
  for (float v : s.buffer("enc_a.bn.mean").to_vector()) EXPECT_EQ(v, -1.0f);
}

}  // namespace
}  // namespace cs
