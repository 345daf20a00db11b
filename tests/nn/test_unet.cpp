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

// The pretext heads (docs/method.md §8): rot_pred is a dense layer on the bottleneck averaged over
// its positions, and its gradient reaches the encoder; rec_fin_layer maps block 5 to one channel.
TEST(UNet, PretextHeads) {
  UNetConfig r = UNetConfig::rotation("acdc");
  r.image_size = 64;  // a 2 x 2 bottleneck
  UNet rot(r);
  EXPECT_TRUE(rot.params().param_names("dec_").empty());
  EXPECT_TRUE(rot.params().param_names("seg_").empty());
  EXPECT_EQ(rot.params().param("rot_pred.w").shape(), (Shape{4, 128}));
  EXPECT_FALSE(rot.params().has_param("rot_pred.b"));
  const Tensor x = ramp({3, 64, 64, 1});
  {
    NoGradGuard ng;
    const RunMode m = RunMode::inference();
    const Tensor bottleneck = rot.encoder(x, m).bottleneck;
    const auto b = bottleneck.to_vector(), w = rot.params().param("rot_pred.w").to_vector();
    const auto logits = rot.rotation_logits(bottleneck, m).to_vector();
    ASSERT_EQ(logits.size(), 3u * 4);
    for (int n = 0; n < 3; ++n)
      for (int k = 0; k < 4; ++k) {
        double expected = 0;
        for (int c = 0; c < 128; ++c) {
          double mean = 0;
          for (int p = 0; p < 4; ++p) mean += b[(n * 4 + p) * 128 + c] / 4.0;
          expected += w[k * 128 + c] * mean;
        }
        EXPECT_NEAR(logits[n * 4 + k], expected, 1e-4 * (1 + std::fabs(expected))) << n << " " << k;
      }
  }
  rot.params().zero_grad();
  Tensor total = sum(rot.rotation_logits(rot.encoder(x, RunMode::training()).bottleneck, RunMode::training()));
  backward(total);
  double enc = 0;
  for (float v : rot.params().grad("enc_c1_a.w").to_vector()) enc += std::fabs(v);
  EXPECT_GT(enc, 0.0);

  UNet rec(UNetConfig::restoration("mmwhs"));
  EXPECT_TRUE(rec.params().param_names("seg_").empty());
  const UNet full(UNetConfig::for_dataset("mmwhs"));
  EXPECT_EQ(rec.params().param_names("dec_"), full.params().param_names("dec_"));
  EXPECT_EQ(rec.params().param("rec_fin_layer.w").shape(), (Shape{1, 3, 3, 16}));
  EXPECT_EQ(rec.params().param("rec_fin_layer.b").shape(), (Shape{1}));
  NoGradGuard ng;
  const RunMode m = RunMode::inference();
  const Tensor image = rec.image_output(rec.decoder_blocks(rec.encoder(ramp({2, 160, 160, 1}), m), 5, m), m);
  EXPECT_EQ(image.shape(), (Shape{2, 160, 160, 1}));
  EXPECT_THROW(rot.image_output(image, m), std::invalid_argument);
  EXPECT_THROW(rec.rotation_logits(image, m), std::invalid_argument);
  UNetConfig headless = UNetConfig::restoration("acdc");
  headless.decoder_blocks = 4;
  EXPECT_THROW(headless.validate(), std::invalid_argument);
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
