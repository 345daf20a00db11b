#include "nn/summary.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "autograd/tape.h"

namespace cs {
namespace {

int64_t layer_params(const ParamStore& store, const std::string& layer) {
  int64_t n = 0;
  for (size_t i = 0; i < store.num_params(); ++i) {
    const ParamEntry& e = store.param_entry(i);
    if (e.name.compare(0, layer.size() + 1, layer + ".") == 0) n += e.numel;
  }
  return n;
}

// FLOPs of one layer for one image, from its weight shape and its output shape.
// Each output value needs (weight numel / Cout) multiply-adds: KH*KW*Cin for a conv, Din for a dense.
double layer_flops(const Shape& w, const Shape& out_per_image) {
  const double out = static_cast<double>(shape_numel(out_per_image));
  return 2.0 * out * static_cast<double>(shape_numel(w) / w[0]);
}

}  // namespace

ModelSummary summarize_model(UNetConfig cfg, int g2_block) {
  decoder_block_channels(g2_block);  // range check
  cfg.decoder_blocks = 5;
  cfg.seg_head = true;
  cfg.g1 = true;
  cfg.g2_block = g2_block;
  cfg.g2_dense = true;
  UNet net(cfg, Device::CPU);

  std::map<std::string, Shape> out_shape;  // layer -> output of one image
  net.set_layer_observer([&](const LayerSpec& L, const Tensor& y) {
    Shape s = y.shape();
    s[0] = 1;
    out_shape.emplace(L.name, s);  // a layer seen twice keeps its first shape
  });
  {
    NoGradGuard ng;
    const RunMode m = RunMode::inference();
    Tensor x = Tensor::zeros({1, cfg.image_size, cfg.image_size, cfg.in_channels});
    EncoderOutput enc = net.encoder(x, m);
    net.g1(enc.bottleneck, m);
    net.g2(net.decoder_blocks(enc, g2_block, m), m);
    net.seg_head(net.decoder_blocks(enc, 5, m), m);
    if (cfg.rotation_head) net.rotation_logits(enc.bottleneck, m);  // the pretext heads, where built
    if (cfg.image_head) net.image_output(net.decoder_blocks(enc, 5, m), m);
  }

  ModelSummary s;
  s.config = cfg;
  std::vector<std::string> order;
  std::map<std::string, SectionTotal> tot;
  for (const LayerSpec& L : net.layers()) {
    LayerRow r;
    r.name = L.name;
    r.section = L.section;
    const Shape& w = net.params().param(L.name + ".w").shape();
    const bool dense = L.kind == LayerSpec::Kind::Dense;
    r.kind = dense ? "dense" : "conv" + std::to_string(w[1]) + "x" + std::to_string(w[2]);
    if (out_shape.count(L.name)) {
      r.output = out_shape[L.name];
    } else if (L.name == "g2_pred") {  // applied by the local loss to each flattened region
      r.output = {1, w[0]};
    } else {
      throw std::logic_error("summarize_model: layer " + L.name + " produced no output");
    }
    r.params = layer_params(net.params(), L.name);
    r.flops = layer_flops(w, r.output);
    s.rows.push_back(r);
    if (!tot.count(L.section)) order.push_back(L.section);
    auto& t = tot[L.section];
    t.section = L.section;
    t.params += r.params;
    if (L.name != "g2_pred") t.flops += r.flops;
    if (L.section == "encoder" || L.section == "decoder" || L.section == "seg_head") {
      s.unet_params += r.params;
      s.unet_flops += r.flops;
    }
  }
  for (const auto& sec : order) s.sections.push_back(tot[sec]);
  for (size_t i = 0; i < net.params().num_buffers(); ++i) {
    const ParamEntry& e = net.params().buffer_entry(i);
    const std::string sec_prefixes[] = {"enc_", "dec_", "seg_"};
    for (const auto& p : sec_prefixes)
      if (e.name.compare(0, p.size(), p) == 0) s.bn_buffers += e.numel;
  }
  return s;
}

std::string format_summary(const ModelSummary& s) {
  std::ostringstream o;
  char line[256];
  auto header = [&](const std::string& title) {
    o << "\n" << title << "\n";
    std::snprintf(line, sizeof line, "  %-15s %-8s %-22s %12s %14s\n", "layer", "kind", "output (1 image)", "params",
                  "fwd MFLOP");
    o << line;
  };
  auto row = [&](const LayerRow& r) {
    std::snprintf(line, sizeof line, "  %-15s %-8s %-22s %12lld %14.2f%s\n", r.name.c_str(), r.kind.c_str(),
                  shape_str(r.output).c_str(), static_cast<long long>(r.params), r.flops / 1e6,
                  r.name == "g2_pred" ? "  (per region)" : "");
    o << line;
  };
  const UNetConfig& c = s.config;
  o << "U-Net, input " << c.image_size << "x" << c.image_size << "x" << c.in_channels << ", " << c.num_classes
    << " classes";
  const std::pair<const char*, const char*> parts[] = {{"U-Net", ""}, {"g1 (global head, stage 1)", "g1"},
                                                       {"g2 (local head on decoder block ", "g2"}};
  for (const auto& [title, sec] : parts) {
    std::string t = title;
    if (std::string(sec) == "g2") t += std::to_string(c.g2_block) + ", stage 2)";
    header(t);
    for (const auto& r : s.rows) {
      const bool unet = r.section == "encoder" || r.section == "decoder" || r.section == "seg_head";
      if ((sec[0] == '\0' && unet) || r.section == sec) row(r);
    }
    for (const auto& t2 : s.sections) {
      const bool unet = t2.section == "encoder" || t2.section == "decoder" || t2.section == "seg_head";
      if ((sec[0] == '\0' && unet) || t2.section == sec) {
        std::snprintf(line, sizeof line, "  total %-9s %-31s %12lld %14.2f\n", t2.section.c_str(), "",
                      static_cast<long long>(t2.params), t2.flops / 1e6);
        o << line;
      }
    }
  }
  std::snprintf(line, sizeof line,
                "\nTOTAL U-Net: %lld trainable parameters (conv weights + biases, BN gamma + beta), "
                "%.3f GFLOP forward per image (multiply-add = 2); %lld BN running-statistic values\n",
                static_cast<long long>(s.unet_params), s.unet_flops / 1e9, static_cast<long long>(s.bn_buffers));
  o << line;
  return o.str();
}

}  // namespace cs
