#pragma once
// The paper's 2D U-Net (docs/method.md §1) and its projection heads g1 (global) and g2 (local).
//
// A "conv unit" is conv (stride 1, TF SAME, with bias) -> batch norm -> ReLU. BN uses
// epsilon 1e-3 and moving-average decay 0.99.
//
// Tensor names (they follow the reference code's variable names, so that the stage rules of
// docs/method.md §1.8 read naturally as prefix lists). For a layer L:
//   L.w  conv weight [Cout, KH, KW, Cin] (OHWI) or dense weight [Dout, Din]
//   L.b  conv bias [Cout]                     (only where the layer has a bias)
//   L.bn.gamma, L.bn.beta [Cout]              trainable, where the layer has BN
//   L.bn.mean, L.bn.var [Cout]                buffers (BN running statistics)
//
// Encoder e (channels 16, 32, 64, 128, 128, 128; a 2x2 max pool after levels 1..5):
//   enc_c1_a enc_c1_b | enc_c2_a enc_c2_b | ... | enc_c6_a enc_c6_b        3x3 conv units
//   skips = outputs of enc_c1_b..enc_c5_b (before pooling); bottleneck = enc_c6_b output
// Decoder blocks (upsample x2 -> 2x2 "dc" conv unit -> concat [dc, skip] -> 3x3 conv units):
//   block 1: dec_dc6, dec_c5_a, dec_c5_b   128 ch    block 4: dec_dc3, dec_c2_a, dec_c2_b   32 ch
//   block 2: dec_dc5, dec_c4_a, dec_c4_b   128 ch    block 5: dec_dc2, dec_c1_a (one conv) 16 ch
//   block 3: dec_dc4, dec_c3_a, dec_c3_b    64 ch
// Segmentation head: seg_c1_a, seg_c1_b (3x3 conv units, 16 ch), seg_fin_layer (3x3 conv,
//   num_classes outputs, no bias, no BN, no ReLU) -> logits [N, H, W, num_classes].
// g1 (global head, on the bottleneck): flatten -> reg_nn1 (dense 1024, no bias, ReLU)
//   -> reg_pred (dense 128, no bias, linear). Dense weights are [Dout, Din]; the flatten order is
//   NHWC (row, column, channel), as TensorFlow's.
// g2 (local head, on decoder block l with C channels):
//   g2_c1_a (1x1 conv C, no bias, BN, ReLU) -> g2_c1_b (1x1 conv C, no bias, no BN, linear)
//   -> feature map [N, W, W, C]. For 3x3 regions the local loss flattens each region (9C values,
//   row-major over the 3x3 window, channels last) and applies the shared dense weight
//   g2_pred.w [128, 9C] (no bias). The reference code calls these seg_c1_a/seg_c1_b/seg_pred;
//   they are renamed so they never collide with the segmentation head.
// Pretext-task heads (docs/method.md §8), for stage pretrain-pretext:
//   rot_pred (rotation): the bottleneck averaged over its positions (global average pooling,
//   [N, 128]) -> dense to 4 logits, no bias, linear. rec_fin_layer (restoration, inpainting): a
//   3x3 convolution of decoder block 5's features to one channel, with bias, no BN, linear: the
//   restored image.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/init.h"
#include "nn/params.h"

namespace cs {

// Per-dataset constants (docs/method.md §6.1).
struct DatasetGeometry {
  std::string name;
  int image_size;
  int num_classes;
};
DatasetGeometry dataset_geometry(const std::string& name);  // acdc | prostate | mmwhs

struct UNetConfig {
  int image_size = 192;     // H = W; a multiple of 32 (five 2x2 poolings)
  int in_channels = 1;
  int num_classes = 4;
  int decoder_blocks = 5;   // build decoder blocks 1..decoder_blocks (0: encoder only)
  bool seg_head = true;     // seg_c1_a, seg_c1_b, seg_fin_layer (needs decoder_blocks == 5)
  bool g1 = false;          // reg_nn1, reg_pred
  int g2_block = 0;         // 1..5: g2 on top of decoder block l; 0: no g2
  bool g2_dense = true;     // g2_pred.w for 3x3 regions (false for 1x1 regions)
  bool rotation_head = false;  // rot_pred on the pooled bottleneck
  bool image_head = false;     // rec_fin_layer on decoder block 5 (needs decoder_blocks == 5)

  static UNetConfig for_dataset(const std::string& name);  // the full U-Net (stage 3)
  static UNetConfig stage1(const std::string& name);       // encoder + g1
  static UNetConfig stage2(const std::string& name, int l, bool dense = true);  // enc + blocks 1..l + g2
  static UNetConfig rotation(const std::string& name);   // encoder + rot_pred
  static UNetConfig restoration(const std::string& name);  // encoder + blocks 1..5 + rec_fin_layer
  void validate() const;  // throws std::invalid_argument on an inconsistent config
};

// Channel count of decoder block l (1..5): 128, 128, 64, 32, 16.
int decoder_block_channels(int l);

// One layer with parameters. kh = kw = 0 for dense layers.
struct LayerSpec {
  enum class Kind { Conv, Dense };
  std::string name;
  std::string section;  // "encoder", "decoder", "seg_head", "g1", "g2"
  Kind kind;
  int kh, kw, cin, cout;
  bool bias, bn, relu;
};

// How batch norm behaves in one forward pass.
struct RunMode {
  bool train = true;                // BN: batch statistics + running-average update; else running stats
  bool encoder_bn_running = false;  // encoder BN uses running statistics whatever `train` says
                                    // (paper mode of stage 2: frozen encoder, docs/method.md §3.1)
  float bn_decay = 0.99f;           // running = decay * running + (1 - decay) * batch statistics
  static RunMode training() { return {true, false}; }
  static RunMode inference() { return {false, false}; }
  static RunMode frozen_encoder_bn() { return {true, true}; }
};

struct EncoderOutput {
  std::vector<Tensor> skips;  // [0] = enc_c1_b (full resolution) ... [4] = enc_c5_b
  Tensor bottleneck;          // enc_c6_b output [N, H/32, W/32, 128]
};

// Called after every layer with parameters, with its output (used by `contraseg summary`).
using LayerObserver = std::function<void(const LayerSpec& layer, const Tensor& output)>;

class UNet {
 public:
  explicit UNet(const UNetConfig& cfg, Device d = Device::CPU, const InitOptions& init = {});

  const UNetConfig& config() const { return cfg_; }
  ParamStore& params() { return store_; }
  const ParamStore& params() const { return store_; }
  Device device() const { return store_.device(); }
  const std::vector<LayerSpec>& layers() const { return specs_; }

  // x [N, H, W, in_channels], H and W multiples of 32.
  EncoderOutput encoder(const Tensor& x, const RunMode& m);
  // Runs decoder blocks 1..l on the encoder output -> block-l features [N, H/2^(5-l), .., C_l].
  Tensor decoder_blocks(const EncoderOutput& enc, int l, const RunMode& m);
  // block-5 features [N, H, W, 16] -> logits [N, H, W, num_classes]
  Tensor seg_head(const Tensor& block5, const RunMode& m);
  // The whole U-Net: x [N, H, W, in_channels] -> logits [N, H, W, num_classes].
  Tensor forward(const Tensor& x, const RunMode& m);
  // g1: bottleneck [N, S/32, S/32, 128] -> z [N, 128]
  Tensor g1(const Tensor& bottleneck, const RunMode& m);
  // g2: block-l features [N, W, W, C] -> [N, W, W, C] (before region flattening / g2_pred)
  Tensor g2(const Tensor& block_l, const RunMode& m);
  // The shared region dense weight [128, 9C] (3x3 regions).
  Tensor& g2_pred_weight();
  // The rotation head: bottleneck [N, S/32, S/32, 128] -> logits [N, 4] (fp32).
  Tensor rotation_logits(const Tensor& bottleneck, const RunMode& m);
  // The image head: block-5 features [N, H, W, 16] -> the restored image [N, H, W, 1] (fp32).
  Tensor image_output(const Tensor& block5, const RunMode& m);

  void set_layer_observer(LayerObserver f) { observer_ = std::move(f); }

 private:
  struct Layer {
    LayerSpec spec;
    Tensor w, b, gamma, beta, mean, var;
  };
  void add_conv(const std::string& name, const std::string& section, int k, int cin, int cout,
                bool bias, bool bn, bool relu);
  void add_dense(const std::string& name, const std::string& section, int din, int dout, bool relu);
  Tensor run(const std::string& name, const Tensor& x, bool bn_batch_stats, float bn_decay);
  Layer& layer(const std::string& name);

  UNetConfig cfg_;
  ParamStore store_;
  std::vector<LayerSpec> specs_;
  std::vector<Layer> layers_;
  Tensor position_sum_;  // [128, positions * 128]: sums the bottleneck over its positions (rotation head)
  LayerObserver observer_;
};

}  // namespace cs
