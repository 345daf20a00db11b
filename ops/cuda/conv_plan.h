#pragma once
// cuDNN convolution plans: descriptors and chosen algorithms, cached per shape.
//
// TF SAME padding with stride 1 pads (k-1)/2 before and k-1-(k-1)/2 after. cuDNN's legacy API
// only pads symmetrically, so an even kernel (the 2x2 up-conv) runs with the larger padding P on
// both sides and one extra output row/column at the top/left, which is cropped:
//   forward   y = crop(conv_P(x))                 (cuDNN writes [N, H+1, W+1, Cout])
//   backward  dyp = dy placed at offset (1,1) in zeros of shape [N, H+1, W+1, Cout];
//             dx = conv_P^T(dyp), dw = corr_P(x, dyp)
// Output row i+1 of conv_P reads x rows i..i+k-1 with zeros past the bottom, exactly TF's row i;
// the cropped row 0 is the only one that reads the extra top padding. In the backward pass the
// zeros at dyp's top/left border give that row no weight, so both gradients are exact too.
//
// Algorithms are chosen once per shape and direction, on first use: by timing every algorithm
// (cudnnFind*AlgorithmEx) unless CONTRASEG_CONV_ALGO=heuristic asks for cuDNN's heuristic
// ranking (cudnnGet*Algorithm_v7). TF32 tensor cores are off by default (plain FP32 like the CPU
// path); CONTRASEG_TF32=1 or set_conv_tf32(true) allows them. Where cuDNN offers no FMA-only
// algorithm for a direction, that direction runs with cuDNN's default math (TF32 possible),
// an algorithm without tensor ops preferred, and says so once on stderr.
// set_conv_deterministic(true) (the config key `deterministic`) takes only algorithms cuDNN
// marks deterministic, by its heuristic ranking and never by timing, so that the same GPU model
// and library versions choose the same algorithm on every run.
// Like every op, plans are used from the one host thread that issues work to cuda_stream().
#include <cstddef>

#include "autograd/cuda_runtime_api.h"
#include "autograd/tensor.h"

namespace cs::cuda {

struct ConvPlan {
  int N = 0, H = 0, W = 0, Cin = 0, Cout = 0, KH = 0, KW = 0;
  int pad_h = 0, pad_w = 0;  // symmetric padding given to cuDNN
  int off_h = 0, off_w = 0;  // rows / columns cropped at the top / left of cuDNN's output
  int OH = 0, OW = 0;        // cuDNN's output size
  bool tf32 = false;
  bool deterministic = false;  // only CUDNN_DETERMINISTIC algorithms, chosen by the heuristics
  bool cropped() const { return OH != H || OW != W; }

  cudnnTensorDescriptor_t x_desc = nullptr;  // [N,H,W,Cin] NHWC
  cudnnTensorDescriptor_t y_desc = nullptr;  // [N,OH,OW,Cout] NHWC
  cudnnFilterDescriptor_t w_desc = nullptr;  // [Cout,KH,KW,Cin] (KRSC, "NHWC" filter format)
  // One convolution descriptor per direction: each carries the math type its algorithm needs.
  cudnnConvolutionDescriptor_t fwd_desc = nullptr, bwd_data_desc = nullptr, bwd_filter_desc = nullptr;

  bool fwd_ready = false, bwd_data_ready = false, bwd_filter_ready = false;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;  // workspace bytes
};

// The plan for x [N,H,W,Cin] and w [Cout,KH,KW,Cin] (shapes checked by conv2d; throws for an
// empty problem or one past cuDNN's int limits). Plans live until the process exits.
ConvPlan& conv_plan(const Tensor& x, const Tensor& w);

// Choose an algorithm (once). Inputs are real device data (read only); outputs are written to
// scratch, never to the caller's tensors. `dy` has cuDNN's output shape [N,OH,OW,Cout].
void choose_forward(ConvPlan& p, const float* x, const float* w);
void choose_backward_data(ConvPlan& p, const float* w, const float* dy);
void choose_backward_filter(ConvPlan& p, const float* x, const float* dy);

// TF32 for convolutions (default: CONTRASEG_TF32 environment variable, else off).
void set_conv_tf32(bool allow);
bool conv_tf32();

// Deterministic convolution algorithms only (default off); plans made before a change are kept
// under the old value and not reused.
void set_conv_deterministic(bool on);
bool conv_deterministic();

}  // namespace cs::cuda
