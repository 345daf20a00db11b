// `contraseg summary --dataset acdc|prostate|mmwhs [--size N] [--g2-block L]`: the U-Net of that
// dataset layer by layer (output shape, trainable parameters, forward FLOPs per image), then the
// heads g1 and g2 in their own sections, and the totals. The counts come from the model's own
// parameter shapes and from one forward pass of a single image (nn/summary.h).
#include <cstdio>
#include <string>

#include "experiments/cli/cli.h"
#include "nn/summary.h"

namespace cs {
namespace {

CommandSpec summary_spec() {
  return {"summary", "layer table of the U-Net and its heads: shapes, parameters, FLOPs",
          "contraseg summary --dataset acdc|prostate|mmwhs [--size N] [--g2-block L]",
          "The U-Net of a dataset layer by layer (output shape, trainable parameters, forward FLOPs per\n"
          "image), then the heads g1 and g2, and the totals.\n",
          {dataset_option("sets the input size and the number of classes"),
           option("size", "N", "input height = width, a multiple of 32 (default: the dataset's)"),
           option("g2-block", "L", "decoder block (1..5) under the local head g2 (default 3)")}};
}

int cmd_summary(const Args& a) {
  UNetConfig cfg = UNetConfig::for_dataset(a.require("dataset"));
  cfg.image_size = a.get_int("size", cfg.image_size);
  cfg.validate();
  const ModelSummary s = summarize_model(cfg, a.get_int("g2-block", 3));
  std::printf("%s", format_summary(s).c_str());
  return 0;
}

}  // namespace
CS_COMMAND(summary_spec(), cmd_summary);
}  // namespace cs
