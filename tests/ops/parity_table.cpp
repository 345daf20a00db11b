// The CUDA parity table (parity_table.h). A new CUDA kernel needs a row naming it, or
// ParityTable.CoversEveryCudaKernel fails.
#include "parity_table.h"

namespace cs::cudatest {

const std::vector<ParityRow>& parity_table() {
  static const std::vector<ParityRow> rows = {
      // suite, test name, cuda:: kernels, cases
      {"Cuda", "AddMulScaleParity", {"add_forward", "mul_forward", "mul_backward", "axpby"}, add_mul_scale_cases},
      {"Cuda", "SumMeanParity", {"sum_forward", "broadcast_scalar_backward", "axpby"}, sum_mean_cases},
      {"Cuda", "ReluReshapeParity", {"relu_forward", "relu_backward", "axpby"}, relu_reshape_cases},
      {"Cuda", "AxpbyAndBroadcastKernels", {"axpby", "broadcast_scalar_backward"}, axpby_broadcast_cases},
      {"Cuda", "LinearParity", {"linear_forward", "linear_backward"}, linear_cases},
      {"Cuda", "SoftmaxParity", {"softmax_forward", "softmax_backward"}, softmax_cases},
      {"Cuda", "MaxPoolParity", {"maxpool2x2_forward", "maxpool2x2_backward"}, maxpool_cases},
      {"Cuda", "MaxPoolTiesRouteToFirst", {"maxpool2x2_forward", "maxpool2x2_backward"}, maxpool_ties_cases},
      {"Cuda", "UpsampleParity", {"upsample2x_forward", "upsample2x_backward"}, upsample_cases},
      {"Cuda", "ConcatParity", {"concat_channels_forward", "concat_channels_backward"}, concat_cases},
      {"Cuda", "DecoderBlockParity",
       {"upsample2x_forward", "upsample2x_backward", "conv2d_forward", "conv2d_backward", "concat_channels_forward",
        "concat_channels_backward", "relu_forward", "relu_backward"},
       decoder_block_cases},
      {"Cuda", "Conv3x3Parity", {"conv2d_forward", "conv2d_backward"}, conv3x3_cases},
      {"Cuda", "Conv2x2AsymmetricPaddingParity", {"conv2d_forward", "conv2d_backward"}, conv2x2_cases},
      {"Cuda", "Conv1x1AndEvenLargerKernelsParity", {"conv2d_forward", "conv2d_backward"}, conv_other_kernels_cases},
      {"Cuda", "ConvPartialGradients", {"conv2d_forward", "conv2d_backward"}, conv_partial_gradients_cases},
      {"Cuda", "ConvTf32Parity", {"conv2d_forward", "conv2d_backward"}, conv_tf32_cases},
      {"Cuda", "BatchNormTrainParity", {"batch_norm_forward_train", "batch_norm_backward_train"}, bn_train_cases},
      {"Cuda", "BatchNormReluParity",
       {"batch_norm_forward_train", "batch_norm_backward_train", "batch_norm_forward_infer",
        "batch_norm_backward_infer"},
       bn_relu_cases},
      {"Cuda", "BatchNormTrainPartialGradients", {"batch_norm_forward_train", "batch_norm_backward_train"},
       bn_train_partial_cases},
      {"Cuda", "BatchNormInferParity", {"batch_norm_forward_infer", "batch_norm_backward_infer"}, bn_infer_cases},
      {"Cuda", "BatchNormRunningStatistics", {"batch_norm_forward_train", "batch_norm_forward_infer"},
       bn_running_statistics_cases},
      {"Cuda", "Bf16RoundingParity", {"round_to_bf16"}, bf16_rounding_cases},
      {"Cuda", "Bf16Conv2dParity", {"round_to_bf16", "conv2d_forward", "conv2d_backward"}, bf16_conv2d_cases},
      {"Cuda", "Bf16LinearParity", {"round_to_bf16", "linear_forward", "linear_backward"}, bf16_linear_cases},
      {"Cuda", "AdamStepParity", {"adam_step"}, adam_cases},
      {"CudaSimilarity", "NtXentAllPaths", {"ntxent_forward", "ntxent_backward"}, ntxent_all_paths_cases},
      {"CudaSimilarity", "TinyTemperature", {"ntxent_forward", "ntxent_backward"}, ntxent_tiny_tau_cases},
      {"CudaSimilarity", "NtXentManyRows", {"ntxent_forward", "ntxent_backward"}, ntxent_many_rows_cases},
      {"CudaSimilarity", "CosineSimilarityAndRegions",
       {"cosine_similarity_forward", "cosine_similarity_backward", "extract_regions_forward",
        "extract_regions_backward"},
       cosine_and_regions_cases},
      {"CudaLosses", "GlobalLossSpecs", {"ntxent_forward", "ntxent_backward"}, global_loss_cases},
      {"CudaLosses", "LocalLossEndToEnd",
       {"extract_regions_forward", "extract_regions_backward", "linear_forward", "linear_backward", "ntxent_forward",
        "ntxent_backward"},
       local_loss_cases},
      {"CudaLosses", "SegmentationLosses",
       {"dice_forward", "dice_backward", "weighted_ce_forward", "weighted_ce_backward"}, segmentation_loss_cases},
      {"CudaLosses", "SegmentationLossesManyPixels",
       {"dice_forward", "dice_backward", "weighted_ce_forward", "weighted_ce_backward", "axpby"},
       segmentation_loss_many_pixels_cases},
      {"CudaUNetShapes", "Conv3x3Encoder", {"conv2d_forward", "conv2d_backward"}, conv3x3_unet_encoder_cases},
      {"CudaUNetShapes", "Conv3x3Decoder", {"conv2d_forward", "conv2d_backward"}, conv3x3_unet_decoder_cases},
      {"CudaUNetShapes", "UpConv2x2", {"conv2d_forward", "conv2d_backward"}, upconv2x2_unet_cases},
  };
  return rows;
}

}  // namespace cs::cudatest
