// `contraseg profile` on the GPU (experiments/profile/): the fine-tuning step at 64x64 (batch 4),
// run as the command runs it with --set device=cuda, reports a row per op with its calls, forward
// and backward time and rates, the four phases, and a trace with a span for every op of the timed
// steps.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/unet.h"
#include "support/cuda_fixture.h"
#include "support/io_test_util.h"
#include "support/profile_test_util.h"

namespace cs {
namespace {

using CudaProfile = cudatest::Cuda;

TEST_F(CudaProfile, ReportsEveryOpOfACudaStep) {
  const testing_io::TempDir dir;
  const std::string trace = dir / "trace.json";
  const testing_io::RunResult r = testing_io::run_contraseg(
      "profile --set device=cuda --set image_size=64 --set finetune.batch=4 --steps 2 --warmup 1 --trace " + trace);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("finetune: dice loss"), std::string::npos) << r.out;
  const auto rows = testing_profile::op_rows(r.out);
  for (const char* op : {"conv2d", "batch_norm_relu", "maxpool2x2", "upsample2x", "concat", "dice_loss"}) {
    ASSERT_EQ(rows.count(op), 1u) << op << "\n" << r.out;
    ASSERT_EQ(rows.at(op).size(), 8u) << op << "\n" << r.out;
    EXPECT_GT(std::stod(rows.at(op)[0]), 0.0) << op << ": calls per step";
  }
  // The convolutions: one call per conv layer of the U-Net, timed both ways (ms to two decimals:
  // the many calls add up), with rates.
  const UNet unet(UNetConfig::for_dataset("acdc"));
  int conv_layers = 0;
  for (const LayerSpec& l : unet.layers()) conv_layers += l.kind == LayerSpec::Kind::Conv;
  const std::vector<std::string>& conv = rows.at("conv2d");
  EXPECT_EQ(std::stoi(conv[0]), conv_layers);
  for (int k : {1, 2, 4, 5}) EXPECT_GT(std::stod(conv[k]), 0.0) << "conv2d, column " << k + 1 << "\n" << r.out;
  for (const char* phase : {"\ndata ", "\nforward ", "\nbackward ", "\noptimizer "})
    EXPECT_NE(r.out.find(phase), std::string::npos) << phase << "\n" << r.out;

  std::ifstream f(trace);
  ASSERT_TRUE(f) << trace;
  std::map<std::string, int> forward_spans;
  for (const auto& e : nlohmann::json::parse(f)["traceEvents"])
    if (e.value("cat", "") == "forward") forward_spans[e["name"].get<std::string>()]++;
  for (const auto& [op, c] : rows) EXPECT_EQ(forward_spans[op], 2 * std::stoi(c[0])) << op;  // two timed steps
}

}  // namespace
}  // namespace cs
