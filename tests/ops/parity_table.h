#pragma once
// The CUDA parity table: one row per GPU test. Each row is registered as the test <suite>.<name>
// (parity.cpp), which runs the row's cases through expect_parity in the three gradient modes,
// and names the cuda:: kernels its cases run. test_parity_coverage.cpp fails, without a GPU,
// when a kernel declared in a header has no row.
#include <string>
#include <vector>

#include "ops/contrast_plan.h"
#include "parity.h"

namespace cs::cudatest {

using Cases = std::vector<ParityCase>;

struct ParityRow {
  // "Cuda": the op kernels, which scripts/gpu-check.sh also runs under compute-sanitizer
  // (test_ops, Cuda.*); "CudaSimilarity", "CudaLosses" and "CudaUNetShapes": large problems
  // (similarity, losses, the U-Net's convolutions at batch 20), kept out of the sanitizer runs.
  const char* suite;
  const char* name;
  std::vector<const char*> kernels;  // the cuda:: kernels its cases run
  Cases (*cases)();                  // called only on a machine with a GPU
};

const std::vector<ParityRow>& parity_table();

// The cases, beside each group's CPU tests (tests/ops/test_<group>.cpp); the losses' and the
// optimiser's in parity_losses.cpp.
Cases add_mul_scale_cases();
Cases sum_mean_cases();
Cases relu_reshape_cases();
Cases axpby_broadcast_cases();
Cases linear_cases();
Cases softmax_cases();
Cases maxpool_cases();
Cases maxpool_ties_cases();
Cases upsample_cases();
Cases concat_cases();
Cases decoder_block_cases();
Cases conv3x3_cases();
Cases conv2x2_cases();
Cases conv_other_kernels_cases();
Cases conv_partial_gradients_cases();
Cases conv_tf32_cases();
Cases conv3x3_unet_encoder_cases();
Cases conv3x3_unet_decoder_cases();
Cases upconv2x2_unet_cases();
Cases bn_train_cases();
Cases bn_relu_cases();
Cases bn_train_partial_cases();
Cases bn_infer_cases();
Cases bn_running_statistics_cases();
Cases bf16_rounding_cases();
Cases bf16_conv2d_cases();
Cases bf16_linear_cases();
Cases ntxent_all_paths_cases();
Cases ntxent_tiny_tau_cases();
Cases ntxent_many_rows_cases();
Cases cosine_and_regions_cases();
Cases global_loss_cases();
Cases local_loss_cases();
Cases segmentation_loss_cases();
Cases segmentation_loss_many_pixels_cases();
Cases adam_cases();

// ntxent_loss and ntxent_terms of one term list on z [rows, d]: two cases.
Cases ntxent_cases(const ContrastSpec& spec, int d, float tau, const std::string& what);

}  // namespace cs::cudatest
