#pragma once
// Per-layer accounting of a model: output shape, trainable parameters and forward FLOPs, taken
// from the model itself (its parameter shapes and the outputs of one forward pass of a single
// image), not from a separate table. A multiply-add counts as 2 FLOPs; only convolutions and
// dense layers are counted (BN, ReLU, pooling, upsampling and concat are memory-bound extras).
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "nn/unet.h"

namespace cs {

struct LayerRow {
  std::string name;
  std::string section;  // encoder, decoder, seg_head, g1, g2
  std::string kind;     // "conv3x3", "conv2x2", "conv1x1", "dense"
  Shape output;         // for one image (N = 1); for g2_pred: one region vector
  int64_t params = 0;   // trainable: weights, bias, BN gamma and beta
  double flops = 0.0;   // forward, per image (g2_pred: per region vector)
};

struct SectionTotal {
  std::string section;
  int64_t params = 0;
  double flops = 0.0;
};

struct ModelSummary {
  UNetConfig config;
  std::vector<LayerRow> rows;          // in model order
  std::vector<SectionTotal> sections;  // encoder, decoder, seg_head, g1, g2 (those present)
  int64_t unet_params = 0;             // encoder + decoder + seg_head
  double unet_flops = 0.0;             // forward, per image
  int64_t bn_buffers = 0;              // BN running mean + variance values (not trainable)
};

// Builds the full U-Net of `cfg` plus g1 and g2 on block `g2_block` (1..5), runs one image of
// cfg.image_size through it on the CPU (inference mode, no autograd) and collects the rows.
ModelSummary summarize_model(UNetConfig cfg, int g2_block = 3);

// The table as printed by `contraseg summary`.
std::string format_summary(const ModelSummary& s);

}  // namespace cs
