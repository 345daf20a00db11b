// `contraseg summary` totals against an independent count written from docs/method.md §1 by hand:
// one explicit line per layer (kernel k, input channels, output channels, output side).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <map>
#include <memory>
#include <utility>
#include <string>

#include "nn/summary.h"

namespace cs {
namespace {

struct HandCount {
  int64_t params = 0;
  double flops = 0;
  // A conv unit with bias and BN (gamma, beta): k*k*cin*cout + cout + 2*cout parameters.
  void unit(int k, int cin, int cout, int side) {
    params += static_cast<int64_t>(k) * k * cin * cout + cout + 2 * cout;
    flops += 2.0 * side * side * cout * k * k * cin;
  }
};

// docs/method.md §1.2-1.6 for an input of side S (multiple of 32) and `classes` outputs.
HandCount spec_unet(int S, int classes) {
  HandCount h;
  // encoder: level, channels 16 32 64 128 128 128, side S / 2^(level-1)
  h.unit(3, 1, 16, S);         h.unit(3, 16, 16, S);            // enc_c1_a, enc_c1_b
  h.unit(3, 16, 32, S / 2);    h.unit(3, 32, 32, S / 2);        // enc_c2_*
  h.unit(3, 32, 64, S / 4);    h.unit(3, 64, 64, S / 4);        // enc_c3_*
  h.unit(3, 64, 128, S / 8);   h.unit(3, 128, 128, S / 8);      // enc_c4_*
  h.unit(3, 128, 128, S / 16); h.unit(3, 128, 128, S / 16);     // enc_c5_*
  h.unit(3, 128, 128, S / 32); h.unit(3, 128, 128, S / 32);     // enc_c6_*
  // decoder block 1: dec_dc6 (2x2, 128 -> 128), concat with enc_c5_b (128), dec_c5_a, dec_c5_b
  h.unit(2, 128, 128, S / 16); h.unit(3, 256, 128, S / 16); h.unit(3, 128, 128, S / 16);
  // block 2: dec_dc5, concat enc_c4_b (128), dec_c4_a, dec_c4_b
  h.unit(2, 128, 128, S / 8);  h.unit(3, 256, 128, S / 8);  h.unit(3, 128, 128, S / 8);
  // block 3: dec_dc4 (128 -> 64), concat enc_c3_b (64), dec_c3_a, dec_c3_b
  h.unit(2, 128, 64, S / 4);   h.unit(3, 128, 64, S / 4);   h.unit(3, 64, 64, S / 4);
  // block 4: dec_dc3 (64 -> 32), concat enc_c2_b (32), dec_c2_a, dec_c2_b
  h.unit(2, 64, 32, S / 2);    h.unit(3, 64, 32, S / 2);    h.unit(3, 32, 32, S / 2);
  // block 5: dec_dc2 (32 -> 16), concat enc_c1_b (16), dec_c1_a only
  h.unit(2, 32, 16, S);        h.unit(3, 32, 16, S);
  // head: seg_c1_a, seg_c1_b, then seg_fin_layer 3x3 without bias or BN
  h.unit(3, 16, 16, S);        h.unit(3, 16, 16, S);
  h.params += 3 * 3 * 16 * classes;
  h.flops += 2.0 * S * S * classes * 3 * 3 * 16;
  return h;
}

// One forward pass of a full-size image per dataset: computed once for all the tests here.
const ModelSummary& summary_of(const std::string& dataset, int g2_block) {
  static std::map<std::pair<std::string, int>, ModelSummary> cache;
  auto key = std::make_pair(dataset, g2_block);
  if (!cache.count(key)) cache[key] = summarize_model(UNetConfig::for_dataset(dataset), g2_block);
  return cache[key];
}

TEST(Summary, TotalsMatchAnIndependentCount) {
  for (const auto& [name, S, classes] :
       {std::tuple<const char*, int, int>{"acdc", 192, 4}, {"prostate", 192, 3}, {"mmwhs", 160, 8}}) {
    const ModelSummary& s = summary_of(name, 3);
    const HandCount h = spec_unet(S, classes);
    EXPECT_EQ(s.unet_params, h.params) << name;
    EXPECT_NEAR(s.unet_flops, h.flops, 0.01 * h.flops) << name;
    // 28 BN layers, each with a running mean and variance per channel: half the BN parameters.
    int64_t bn = 0;
    for (const auto& r : s.rows)
      if (r.name != "seg_fin_layer" && (r.section == "encoder" || r.section == "decoder" || r.section == "seg_head"))
        bn += 2 * r.output.back();
    EXPECT_EQ(s.bn_buffers, bn);
    if (std::string(name) == "acdc") std::printf("[summary] acdc: %lld parameters, %.4f GFLOP\n",
                                                 static_cast<long long>(s.unet_params), s.unet_flops / 1e9);
  }
}

TEST(Summary, HeadsMatchAnIndependentCount) {
  const ModelSummary& s = summary_of("acdc", 3);
  int64_t g1 = -1, g2 = -1;
  for (const auto& t : s.sections) {
    if (t.section == "g1") g1 = t.params;
    if (t.section == "g2") g2 = t.params;
  }
  EXPECT_EQ(g1, 6 * 6 * 128 * 1024 + 1024 * 128);             // reg_nn1 + reg_pred, no biases
  EXPECT_EQ(g2, (64 * 64 + 2 * 64) + 64 * 64 + 128 * 9 * 64);  // g2_c1_a (+BN), g2_c1_b, g2_pred
  UNetConfig small = UNetConfig::for_dataset("mmwhs");
  small.image_size = 64;  // g2 on block 1 of a 64x64 input: 4x4x128
  const ModelSummary m = summarize_model(small, 1);
  for (const auto& t : m.sections) {
    if (t.section == "g1") {
      EXPECT_EQ(t.params, 2 * 2 * 128 * 1024 + 1024 * 128);
    }
  }
  for (const auto& r : m.rows) {
    if (r.name == "g2_c1_a") {
      EXPECT_EQ(r.output, (Shape{1, 4, 4, 128}));
    }
  }
}

TEST(Summary, CommandPrintsTheTotals) {
  // The parameter count does not depend on the input size (g1 aside): a small input is enough.
  const std::string cmd = std::string(CONTRASEG_BINARY) + " summary --dataset acdc --size 64 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, n);
  const HandCount h = spec_unet(192, 4);
  EXPECT_NE(out.find("TOTAL U-Net: " + std::to_string(h.params) + " trainable parameters"), std::string::npos) << out;
  EXPECT_NE(out.find("seg_fin_layer"), std::string::npos);
  EXPECT_NE(out.find("reg_nn1"), std::string::npos);
  EXPECT_NE(out.find("g2_pred"), std::string::npos);
  const std::string bad = std::string(CONTRASEG_BINARY) + " summary --dataset nope >/dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

}  // namespace
}  // namespace cs
