// U-Net and heads: shapes for each dataset, stage configurations, BN modes, freezing, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <tuple>
#include <string>

#include "autograd/tape.h"
#include "nn/unet.h"
#include "ops/ops.h"

namespace cs {
namespace {

Tensor ramp(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) / 101.0f;
  return Tensor::from_vector(s, v);
}

TEST(UNet, LogitShapesForEachDataset) {
  NoGradGuard ng;
  for (const auto& [name, size, classes] :
       {std::tuple<const char*, int, int>{"acdc", 192, 4}, {"prostate", 192, 3}, {"mmwhs", 160, 8}}) {
    UNet net(UNetConfig::for_dataset(name));
    EXPECT_EQ(net.config().image_size, size);
    EXPECT_EQ(net.config().num_classes, classes);
    EncoderOutput enc = net.encoder(ramp({1, size, size, 1}), RunMode::inference());
    ASSERT_EQ(enc.skips.size(), 5u);
    const int ch[5] = {16, 32, 64, 128, 128};
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(enc.skips[i].shape(), (Shape{1, size >> i, size >> i, ch[i]})) << name << " skip " << i;
    EXPECT_EQ(enc.bottleneck.shape(), (Shape{1, size / 32, size / 32, 128}));
    Tensor logits = net.seg_head(net.decoder_blocks(enc, 5, RunMode::inference()), RunMode::inference());
    EXPECT_EQ(logits.shape(), (Shape{1, size, size, classes})) << name;
    EXPECT_EQ(net.params().param("seg_fin_layer.w").shape(), (Shape{classes, 3, 3, 16}));
    EXPECT_FALSE(net.params().has_param("seg_fin_layer.b"));
  }
}

TEST(UNet, G1EmbeddingShape) {
  for (const auto& [name, flat] : {std::pair<const char*, int>{"acdc", 4608}, {"mmwhs", 3200}}) {
    UNet net(UNetConfig::stage1(name));
    EXPECT_EQ(net.params().param("reg_nn1.w").shape(), (Shape{1024, flat}));
    EXPECT_EQ(net.params().param("reg_pred.w").shape(), (Shape{128, 1024}));
    EXPECT_TRUE(net.params().param_names("dec_").empty());
    EXPECT_TRUE(net.params().param_names("seg_").empty());
  }
  UNetConfig c = UNetConfig::stage1("acdc");
  c.image_size = 64;  // the same head on a small input: [N, 2*2*128]
  UNet net(c);
  Tensor z = net.g1(net.encoder(ramp({3, 64, 64, 1}), RunMode::training()).bottleneck, RunMode::training());
  EXPECT_EQ(z.shape(), (Shape{3, 128}));
}

TEST(UNet, G2ShapesForEveryBlock) {
  const int C[6] = {0, 128, 128, 64, 32, 16};
  for (int l = 1; l <= 5; ++l) {
    UNetConfig c = UNetConfig::stage2("acdc", l);
    c.image_size = 64;
    UNet net(c);
    EXPECT_EQ(decoder_block_channels(l), C[l]);
    EXPECT_EQ(net.g2_pred_weight().shape(), (Shape{128, 9 * C[l]}));
    EXPECT_EQ(net.params().param("g2_c1_a.w").shape(), (Shape{C[l], 1, 1, C[l]}));
    EXPECT_FALSE(net.params().has_param("g2_c1_a.b"));
    EXPECT_TRUE(net.params().has_param("g2_c1_a.bn.gamma"));
    EXPECT_FALSE(net.params().has_param("g2_c1_b.bn.gamma"));
    EXPECT_TRUE(net.params().param_names("seg_").empty());
    // Exactly blocks 1..l are built.
    EXPECT_TRUE(net.params().has_param("dec_dc" + std::to_string(7 - l) + ".w"));
    EXPECT_FALSE(net.params().has_param("dec_dc" + std::to_string(6 - l) + ".w"));
    const RunMode m = RunMode::frozen_encoder_bn();
    EncoderOutput enc = net.encoder(ramp({2, 64, 64, 1}), m);
    Tensor f = net.decoder_blocks(enc, l, m);
    const int64_t w = 64 >> (5 - l);
    EXPECT_EQ(f.shape(), (Shape{2, w, w, C[l]})) << "block " << l;
    EXPECT_EQ(net.g2(f, m).shape(), (Shape{2, w, w, C[l]})) << "g2 on block " << l;
  }
  UNetConfig c = UNetConfig::stage2("acdc", 3, /*dense=*/false);
  UNet net(c);
  EXPECT_THROW(net.g2_pred_weight(), std::invalid_argument);
}

TEST(UNet, ParameterNamesAndCountsOfTheFullNetwork) {
  UNet net(UNetConfig::for_dataset("acdc"));
  const ParamStore& p = net.params();
  // 12 encoder + 14 decoder + 3 head layers; every one but seg_fin_layer has a bias and BN.
  EXPECT_EQ(net.layers().size(), 29u);
  EXPECT_EQ(p.num_params(), 28u * 4 + 1);
  EXPECT_EQ(p.num_buffers(), 28u * 2);
  EXPECT_EQ(p.param("dec_dc6.w").shape(), (Shape{128, 2, 2, 128}));
  EXPECT_EQ(p.param("dec_c5_a.w").shape(), (Shape{128, 3, 3, 256}));
  EXPECT_EQ(p.param("dec_dc2.w").shape(), (Shape{16, 2, 2, 32}));
  EXPECT_EQ(p.param("dec_c1_a.w").shape(), (Shape{16, 3, 3, 32}));
  EXPECT_FALSE(p.has_param("dec_c1_b.w"));  // block 5 has one 3x3 conv
  EXPECT_EQ(p.param("enc_c1_a.w").shape(), (Shape{16, 3, 3, 1}));
  EXPECT_EQ(p.buffer("enc_c6_b.bn.var").shape(), (Shape{128}));
}

TEST(UNet, BatchNormModes) {
  UNetConfig c = UNetConfig::for_dataset("prostate");
  c.image_size = 32;
  UNet net(c);
  ParamStore& p = net.params();
  const Tensor x = ramp({2, 32, 32, 1});
  auto changed = [&](const std::string& layer) {
    for (float v : p.buffer(layer + ".bn.mean").to_vector())
      if (v != 0.0f) return true;
    return false;
  };
  NoGradGuard ng;
  net.forward(x, RunMode::inference());
  for (size_t i = 0; i < p.num_buffers(); ++i)
    for (float v : p.buffer_at(i).to_vector()) ASSERT_EQ(v, 0.0f) << "inference changed " << p.buffer_entry(i).name;
  net.forward(x, RunMode::frozen_encoder_bn());  // paper-mode stage 2: encoder BN on running stats
  EXPECT_FALSE(changed("enc_c1_a"));
  EXPECT_FALSE(changed("enc_c6_b"));
  EXPECT_TRUE(changed("dec_dc6"));
  EXPECT_TRUE(changed("dec_c1_a"));
  EXPECT_TRUE(changed("seg_c1_b"));
  net.forward(x, RunMode::training());
  EXPECT_TRUE(changed("enc_c1_a"));
  EXPECT_TRUE(changed("enc_c6_b"));
}

TEST(UNet, FrozenEncoderGetsNoGradient) {
  UNetConfig c = UNetConfig::stage2("acdc", 2);
  c.image_size = 32;
  UNet net(c);
  ParamStore& p = net.params();
  p.freeze("enc_");
  p.zero_grad();
  const RunMode m = RunMode::frozen_encoder_bn();
  Tensor f = net.g2(net.decoder_blocks(net.encoder(ramp({2, 32, 32, 1}), m), 2, m), m);
  Tensor loss = sum(mul(f, ramp(f.shape())));
  backward(loss);
  for (const auto& n : p.param_names("enc_"))
    for (float v : p.grad(n).to_vector()) ASSERT_EQ(v, 0.0f) << n;
  double dec = 0;  // the decoder's (dec_dc6's own gradient is subnormal on this input: flushed)
  for (const auto& n : p.param_names("dec_"))
    for (float v : p.grad(n).to_vector()) dec += std::fabs(v);
  EXPECT_GT(dec, 0.0);
}

TEST(UNet, ClearErrors) {
  UNetConfig bad = UNetConfig::for_dataset("acdc");
  bad.image_size = 100;
  EXPECT_THROW(UNet{bad}, std::invalid_argument);
  EXPECT_THROW(UNetConfig::for_dataset("brats"), std::invalid_argument);
  EXPECT_THROW(UNetConfig::stage2("acdc", 6), std::invalid_argument);
  UNetConfig head_without_decoder = UNetConfig::for_dataset("acdc");
  head_without_decoder.decoder_blocks = 3;
  EXPECT_THROW(head_without_decoder.validate(), std::invalid_argument);

  UNetConfig c = UNetConfig::stage2("acdc", 2);
  c.image_size = 32;
  UNet net(c);
  NoGradGuard ng;
  EXPECT_THROW(net.encoder(ramp({1, 48, 48, 1}), RunMode::training()), std::invalid_argument);
  EXPECT_THROW(net.encoder(ramp({1, 32, 32, 2}), RunMode::training()), std::invalid_argument);
  EncoderOutput enc = net.encoder(ramp({1, 32, 32, 1}), RunMode::training());
  EXPECT_THROW(net.decoder_blocks(enc, 3, RunMode::training()), std::invalid_argument);
  EXPECT_THROW(net.g1(enc.bottleneck, RunMode::training()), std::invalid_argument);
  EXPECT_THROW(net.forward(ramp({1, 32, 32, 1}), RunMode::training()), std::invalid_argument);
}

}  // namespace
}  // namespace cs
