#include "nn/unet.h"

#include <stdexcept>

#include "ops/ops.h"

namespace cs {
namespace {
constexpr float kBnEps = 1e-3f;
constexpr int kEncChannels[6] = {16, 32, 64, 128, 128, 128};
constexpr int kDecChannels[5] = {128, 128, 64, 32, 16};
constexpr int kG1Hidden = 1024, kEmbedding = 128;
constexpr int kRotations = 4;  // rot_pred's classes: 0, 90, 180, 270 degrees

// The type of the activations inside the network: bf16 where the ops run in bf16 on a device
// whose kernels take bf16 (ops/precision.h), so that the memory-bound layers and the
// convolutions' inputs and outputs move half the bytes; fp32 otherwise. The heads' outputs are
// fp32 either way (the losses are fp32).
DType activation_type(Device d) {
  return compute_precision() == Precision::BF16 && native_bf16(d) ? DType::BF16 : DType::F32;
}

std::string enc_name(int level, char ab) { return "enc_c" + std::to_string(level) + "_" + ab; }
// Block l (1..5): its up-conv is dec_dc(7-l), its 3x3 convs dec_c(6-l)_a / _b.
std::string dc_name(int l) { return "dec_dc" + std::to_string(7 - l); }
std::string dec_name(int l, char ab) { return "dec_c" + std::to_string(6 - l) + "_" + ab; }
}  // namespace

DatasetGeometry dataset_geometry(const std::string& name) {
  if (name == "acdc") return {"acdc", 192, 4};
  if (name == "prostate") return {"prostate", 192, 3};
  if (name == "mmwhs") return {"mmwhs", 160, 8};
  throw std::invalid_argument("unknown dataset '" + name + "' (expected acdc, prostate or mmwhs)");
}

int decoder_block_channels(int l) {
  if (l < 1 || l > 5) throw std::invalid_argument("decoder block " + std::to_string(l) + " is not in 1..5");
  return kDecChannels[l - 1];
}

UNetConfig UNetConfig::for_dataset(const std::string& name) {
  const DatasetGeometry g = dataset_geometry(name);
  UNetConfig c;
  c.image_size = g.image_size;
  c.num_classes = g.num_classes;
  return c;
}

UNetConfig UNetConfig::stage1(const std::string& name) {
  UNetConfig c = for_dataset(name);
  c.decoder_blocks = 0;
  c.seg_head = false;
  c.g1 = true;
  return c;
}

UNetConfig UNetConfig::stage2(const std::string& name, int l, bool dense) {
  decoder_block_channels(l);  // range check
  UNetConfig c = for_dataset(name);
  c.decoder_blocks = l;
  c.seg_head = false;
  c.g2_block = l;
  c.g2_dense = dense;
  return c;
}

UNetConfig UNetConfig::rotation(const std::string& name) {
  UNetConfig c = for_dataset(name);
  c.decoder_blocks = 0;
  c.seg_head = false;
  c.rotation_head = true;
  return c;
}

UNetConfig UNetConfig::restoration(const std::string& name) {
  UNetConfig c = for_dataset(name);
  c.seg_head = false;
  c.image_head = true;
  return c;
}

void UNetConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("UNetConfig: " + m); };
  if (image_size <= 0 || image_size % 32 != 0)
    fail("image_size " + std::to_string(image_size) + " is not a positive multiple of 32");
  if (in_channels < 1) fail("in_channels must be >= 1");
  if (decoder_blocks < 0 || decoder_blocks > 5) fail("decoder_blocks must be in 0..5");
  if (seg_head && decoder_blocks != 5) fail("the segmentation head needs all 5 decoder blocks");
  if (seg_head && num_classes < 2) fail("num_classes must be >= 2");
  if (g2_block < 0 || g2_block > 5) fail("g2_block must be in 0..5");
  if (g2_block > decoder_blocks) fail("g2 on block " + std::to_string(g2_block) + " needs decoder_blocks >= it");
  if (image_head && decoder_blocks != 5) fail("the image head needs all 5 decoder blocks");
}

void UNet::add_conv(const std::string& name, const std::string& section, int k, int cin, int cout,
                    bool bias, bool bn, bool relu) {
  specs_.push_back({name, section, LayerSpec::Kind::Conv, k, k, cin, cout, bias, bn, relu});
  store_.declare_param(name + ".w", {cout, k, k, cin}, ParamKind::ConvWeight);
  if (bias) store_.declare_param(name + ".b", {cout}, ParamKind::ConvBias);
  if (bn) {
    store_.declare_param(name + ".bn.gamma", {cout}, ParamKind::BNGamma);
    store_.declare_param(name + ".bn.beta", {cout}, ParamKind::BNBeta);
    store_.declare_buffer(name + ".bn.mean", {cout}, ParamKind::BNMean);
    store_.declare_buffer(name + ".bn.var", {cout}, ParamKind::BNVar);
  }
}

void UNet::add_dense(const std::string& name, const std::string& section, int din, int dout, bool relu) {
  specs_.push_back({name, section, LayerSpec::Kind::Dense, 0, 0, din, dout, false, false, relu});
  store_.declare_param(name + ".w", {dout, din}, ParamKind::DenseWeight);
}

UNet::UNet(const UNetConfig& cfg, Device d, const InitOptions& init) : cfg_(cfg) {
  cfg_.validate();
  // Encoder: six levels of two 3x3 conv units.
  int cin = cfg_.in_channels;
  for (int level = 1; level <= 6; ++level) {
    const int c = kEncChannels[level - 1];
    add_conv(enc_name(level, 'a'), "encoder", 3, cin, c, true, true, true);
    add_conv(enc_name(level, 'b'), "encoder", 3, c, c, true, true, true);
    cin = c;
  }
  // Decoder blocks: the concat doubles the channels (the skip has as many as the block).
  for (int l = 1; l <= cfg_.decoder_blocks; ++l) {
    const int c = kDecChannels[l - 1];
    add_conv(dc_name(l), "decoder", 2, cin, c, true, true, true);
    add_conv(dec_name(l, 'a'), "decoder", 3, 2 * c, c, true, true, true);
    if (l < 5) add_conv(dec_name(l, 'b'), "decoder", 3, c, c, true, true, true);
    cin = c;
  }
  if (cfg_.seg_head) {
    add_conv("seg_c1_a", "seg_head", 3, 16, 16, true, true, true);
    add_conv("seg_c1_b", "seg_head", 3, 16, 16, true, true, true);
    add_conv("seg_fin_layer", "seg_head", 3, 16, cfg_.num_classes, false, false, false);
  }
  if (cfg_.g1) {
    const int s = cfg_.image_size / 32;
    add_dense("reg_nn1", "g1", s * s * kEncChannels[5], kG1Hidden, true);
    add_dense("reg_pred", "g1", kG1Hidden, kEmbedding, false);
  }
  if (cfg_.g2_block > 0) {
    const int c = kDecChannels[cfg_.g2_block - 1];
    add_conv("g2_c1_a", "g2", 1, c, c, false, true, true);
    add_conv("g2_c1_b", "g2", 1, c, c, false, false, false);
    if (cfg_.g2_dense) add_dense("g2_pred", "g2", 9 * c, kEmbedding, false);
  }

  if (cfg_.rotation_head) add_dense("rot_pred", "rotation_head", kEncChannels[5], kRotations, false);
  if (cfg_.image_head) add_conv("rec_fin_layer", "image_head", 3, 16, 1, true, false, false);

  store_.allocate(d);
  init_params(store_, init);
  if (cfg_.rotation_head) {
    // Global average pooling as a product: row c of this matrix picks channel c at every position
    // of the flattened (row, column, channel) bottleneck, so x_flat w^T sums each channel.
    const int c = kEncChannels[5], positions = (cfg_.image_size / 32) * (cfg_.image_size / 32);
    std::vector<float> w(static_cast<size_t>(c) * positions * c, 0.f);
    for (int ch = 0; ch < c; ++ch)
      for (int p = 0; p < positions; ++p) w[(static_cast<size_t>(ch) * positions + p) * c + ch] = 1.f;
    position_sum_ = Tensor::from_vector({c, static_cast<int64_t>(positions) * c}, w, d);
  }
  for (const LayerSpec& s : specs_) {
    Layer L{s, store_.param(s.name + ".w"), {}, {}, {}, {}, {}};
    if (s.bias) L.b = store_.param(s.name + ".b");
    if (s.bn) {
      L.gamma = store_.param(s.name + ".bn.gamma");
      L.beta = store_.param(s.name + ".bn.beta");
      L.mean = store_.buffer(s.name + ".bn.mean");
      L.var = store_.buffer(s.name + ".bn.var");
    }
    layers_.push_back(L);
  }
}

UNet::Layer& UNet::layer(const std::string& name) {
  for (Layer& L : layers_)
    if (L.spec.name == name) return L;
  throw std::invalid_argument("UNet: this model has no layer '" + name +
                              "' (check decoder_blocks / seg_head / g1 / g2_block in its config)");
}

// One layer: conv [+ bias] [-> BN] [-> ReLU], or dense [-> ReLU].
Tensor UNet::run(const std::string& name, const Tensor& x, bool bn_batch_stats, float bn_decay) {
  Layer& L = layer(name);
  Tensor y = L.spec.kind == LayerSpec::Kind::Conv ? conv2d(x, L.w, L.b) : linear(x, L.w);
  if (L.spec.bn && L.spec.relu)  // one pass over memory each way instead of two
    y = batch_norm_relu(y, L.gamma, L.beta, L.mean, L.var, bn_batch_stats, bn_decay, kBnEps);
  else if (L.spec.bn)
    y = batch_norm(y, L.gamma, L.beta, L.mean, L.var, bn_batch_stats, bn_decay, kBnEps);
  else if (L.spec.relu)
    y = relu(y);
  if (observer_) observer_(L.spec, y);
  return y;
}

EncoderOutput UNet::encoder(const Tensor& x, const RunMode& m) {
  check_ndim(x, 4, "UNet::encoder", "input x [N,H,W,C]");
  if (x.dim(3) != cfg_.in_channels || x.dim(1) % 32 != 0 || x.dim(2) % 32 != 0 || x.dim(1) == 0 ||
      x.dim(2) == 0)
    throw std::invalid_argument("UNet::encoder: input " + shape_str(x.shape()) + " must be [N,H,W," +
                                std::to_string(cfg_.in_channels) + "] with H and W multiples of 32");
  const bool bn_batch = m.train && !m.encoder_bn_running;
  EncoderOutput out;
  Tensor h = cast(x, activation_type(x.device()));
  for (int level = 1; level <= 6; ++level) {
    h = run(enc_name(level, 'a'), h, bn_batch, m.bn_decay);
    h = run(enc_name(level, 'b'), h, bn_batch, m.bn_decay);
    if (level < 6) {
      out.skips.push_back(h);
      h = maxpool2x2(h);
    }
  }
  out.bottleneck = h;
  return out;
}

Tensor UNet::decoder_blocks(const EncoderOutput& enc, int l, const RunMode& m) {
  decoder_block_channels(l);  // range check
  if (l > cfg_.decoder_blocks)
    throw std::invalid_argument("UNet::decoder_blocks: block " + std::to_string(l) + " requested, the model has " +
                                std::to_string(cfg_.decoder_blocks));
  if (enc.skips.size() != 5) throw std::invalid_argument("UNet::decoder_blocks: encoder output needs 5 skips");
  Tensor h = enc.bottleneck;
  for (int b = 1; b <= l; ++b) {
    h = run(dc_name(b), upsample2x(h), m.train, m.bn_decay);
    h = concat_channels(h, enc.skips[5 - b]);  // [decoder features, skip]
    h = run(dec_name(b, 'a'), h, m.train, m.bn_decay);
    if (b < 5) h = run(dec_name(b, 'b'), h, m.train, m.bn_decay);
  }
  return h;
}

Tensor UNet::seg_head(const Tensor& block5, const RunMode& m) {
  if (!cfg_.seg_head) throw std::invalid_argument("UNet::seg_head: this model has no segmentation head");
  Tensor h = run("seg_c1_a", block5, m.train, m.bn_decay);
  h = run("seg_c1_b", h, m.train, m.bn_decay);
  return cast(run("seg_fin_layer", h, m.train, m.bn_decay), DType::F32);
}

Tensor UNet::forward(const Tensor& x, const RunMode& m) {
  EncoderOutput enc = encoder(x, m);
  return seg_head(decoder_blocks(enc, 5, m), m);
}

Tensor UNet::g1(const Tensor& bottleneck, const RunMode& m) {
  if (!cfg_.g1) throw std::invalid_argument("UNet::g1: this model has no g1 head");
  const int64_t s = cfg_.image_size / 32;
  check_ndim(bottleneck, 4, "UNet::g1", "bottleneck [N,S/32,S/32,128]");
  if (bottleneck.dim(1) != s || bottleneck.dim(2) != s || bottleneck.dim(3) != kEncChannels[5])
    throw std::invalid_argument("UNet::g1: bottleneck " + shape_str(bottleneck.shape()) + " does not match image_size " +
                                std::to_string(cfg_.image_size) + " (expected [N," + std::to_string(s) + "," +
                                std::to_string(s) + ",128])");
  Tensor h = run("reg_nn1", flatten(cast(bottleneck, DType::F32)), m.train, m.bn_decay);
  return run("reg_pred", h, m.train, m.bn_decay);
}

Tensor UNet::g2(const Tensor& block_l, const RunMode& m) {
  if (cfg_.g2_block == 0) throw std::invalid_argument("UNet::g2: this model has no g2 head");
  Tensor h = run("g2_c1_a", block_l, m.train, m.bn_decay);
  return cast(run("g2_c1_b", h, m.train, m.bn_decay), DType::F32);
}

Tensor UNet::rotation_logits(const Tensor& bottleneck, const RunMode& m) {
  if (!cfg_.rotation_head) throw std::invalid_argument("UNet::rotation_logits: this model has no rotation head");
  const int64_t s = cfg_.image_size / 32;
  check_ndim(bottleneck, 4, "UNet::rotation_logits", "bottleneck [N,S/32,S/32,128]");
  if (bottleneck.dim(1) != s || bottleneck.dim(2) != s || bottleneck.dim(3) != kEncChannels[5])
    throw std::invalid_argument("UNet::rotation_logits: bottleneck " + shape_str(bottleneck.shape()) +
                                " does not match image_size " + std::to_string(cfg_.image_size));
  // The sum over positions has weights 1, exact in bf16 too; the mean's 1/positions is fp32.
  const Tensor pooled = scale(linear(flatten(cast(bottleneck, DType::F32)), position_sum_), 1.f / float(s * s));
  return run("rot_pred", pooled, m.train, m.bn_decay);
}

Tensor UNet::image_output(const Tensor& block5, const RunMode& m) {
  if (!cfg_.image_head) throw std::invalid_argument("UNet::image_output: this model has no image head");
  return cast(run("rec_fin_layer", block5, m.train, m.bn_decay), DType::F32);
}

Tensor& UNet::g2_pred_weight() {
  if (cfg_.g2_block == 0 || !cfg_.g2_dense)
    throw std::invalid_argument("UNet::g2_pred_weight: this model has no g2_pred dense layer");
  return store_.param("g2_pred.w");
}

}  // namespace cs
