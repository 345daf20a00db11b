// conv2d through cuDNN (NHWC activations, OHWI = KRSC weights), plus the small kernels around
// it: bias add, crop of the even-kernel output, zero-padding of its gradient, bias gradient.
// See ops/cuda/conv_plan.h for the padding scheme and the algorithm choice.
#include <stdexcept>

#include "ops/cuda/common.cuh"
#include "ops/cuda/conv_plan.h"
#include "ops/conv2d.h"

namespace cs::cuda {
namespace {

// y[r,c] += b[c]
__global__ void bias_add_kernel(float* __restrict__ y, const float* __restrict__ b, int64_t n, int64_t C) {
  CS_GRID_STRIDE(i, n) y[i] += b[i % C];
}

// y [N,H,W,C] = t [N,OH,OW,C] shifted by (oh, ow) (+ bias when b is not null)
__global__ void crop_kernel(const float* __restrict__ t, const float* __restrict__ b, float* __restrict__ y,
                            int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int oh,
                            int ow) {
  CS_GRID_STRIDE(i, N * H * W * C) {
    const NhwcIndex e = nhwc_index(i, H, W, C);
    const float v = t[((e.n * OH + e.h + oh) * OW + e.w + ow) * C + e.c];
    y[i] = b ? v + b[e.c] : v;
  }
}

// dyp [N,OH,OW,C]: dy [N,H,W,C] placed at offset (oh, ow), zeros elsewhere.
__global__ void pad_kernel(const float* __restrict__ dy, float* __restrict__ dyp, int64_t N, int64_t H,
                           int64_t W, int64_t C, int64_t OH, int64_t OW, int oh, int ow) {
  CS_GRID_STRIDE(i, N * OH * OW * C) {
    const NhwcIndex e = nhwc_index(i, OH, OW, C);
    const int64_t h = e.h - oh, w = e.w - ow;
    dyp[i] = (h >= 0 && h < H && w >= 0 && w < W) ? dy[((e.n * H + h) * W + w) * C + e.c] : 0.0f;
  }
}

// db[c] = beta*db[c] + sum over rows of dy[:, c]
__global__ void bias_grad_kernel(const double* __restrict__ sums, float* db, float beta, int64_t C) {
  CS_GRID_STRIDE(c, C) store_beta(&db[c], static_cast<float>(sums[c]), beta);
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  ConvPlan& p = conv_plan(x, w);
  choose_forward(p, x.data(), w.data());
  Scratch ws(p.fwd_ws);
  const float one = 1.0f, zero = 0.0f;
  const int64_t n = y.numel();
  const int64_t C = p.Cout;
  if (!p.cropped()) {
    cudnn_check(
        cudnnConvolutionForward(cudnn_handle(), &one, p.x_desc, x.data(), p.w_desc, w.data(), p.fwd_desc,
                                p.fwd_algo, ws.as<void>(), p.fwd_ws, &zero, p.y_desc, y.data()),
        "conv2d_forward: cudnnConvolutionForward");
    if (b.defined()) launch("bias_add_kernel", bias_add_kernel, n, y.data(), b.data(), n, C);
    return;
  }
  Scratch full(sizeof(float) * static_cast<size_t>(p.N) * p.OH * p.OW * p.Cout);
  cudnn_check(
      cudnnConvolutionForward(cudnn_handle(), &one, p.x_desc, x.data(), p.w_desc, w.data(), p.fwd_desc,
                              p.fwd_algo, ws.as<void>(), p.fwd_ws, &zero, p.y_desc, full.as<float>()),
      "conv2d_forward: cudnnConvolutionForward");
  launch("crop_kernel", crop_kernel, n, full.as<float>(), b.defined() ? b.data() : nullptr, y.data(), p.N, p.H, p.W,
         C, p.OH, p.OW, p.off_h, p.off_w);
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, float* dx, float beta_dx, float* dw,
                     float beta_dw, float* db, float beta_db) {
  ConvPlan& p = conv_plan(x, w);
  const int64_t C = p.Cout;
  const int64_t rows = static_cast<int64_t>(p.N) * p.H * p.W;

  if (db) {
    Scratch sums(sizeof(double) * 2 * C);
    channel_sums(ChannelSum::Sum, dy.data(), nullptr, nullptr, rows, C, sums.as<double>());
    launch("bias_grad_kernel", bias_grad_kernel, C, sums.as<double>(), db, beta_db, C);
  }
  if (!dx && !dw) return;

  // cuDNN sees dy with its own output shape: padded for an even kernel.
  const float* dyc = dy.data();
  Scratch padded(p.cropped() ? sizeof(float) * static_cast<size_t>(p.N) * p.OH * p.OW * p.Cout : 0);
  if (p.cropped()) {
    const int64_t np = static_cast<int64_t>(p.N) * p.OH * p.OW * C;
    launch("pad_kernel", pad_kernel, np, dy.data(), padded.as<float>(), p.N, p.H, p.W, C, p.OH, p.OW, p.off_h,
           p.off_w);
    dyc = padded.as<float>();
  }
  const float one = 1.0f;
  if (dx) {
    choose_backward_data(p, w.data(), dyc);
    Scratch ws(p.bwd_data_ws);
    cudnn_check(
        cudnnConvolutionBackwardData(cudnn_handle(), &one, p.w_desc, w.data(), p.y_desc, dyc, p.bwd_data_desc,
                                     p.bwd_data_algo, ws.as<void>(), p.bwd_data_ws, &beta_dx, p.x_desc, dx),
        "conv2d_backward: cudnnConvolutionBackwardData");
  }
  if (dw) {
    choose_backward_filter(p, x.data(), dyc);
    Scratch ws(p.bwd_filter_ws);
    cudnn_check(cudnnConvolutionBackwardFilter(cudnn_handle(), &one, p.x_desc, x.data(), p.y_desc, dyc,
                                               p.bwd_filter_desc, p.bwd_filter_algo, ws.as<void>(),
                                               p.bwd_filter_ws, &beta_dw, p.w_desc, dw),
                "conv2d_backward: cudnnConvolutionBackwardFilter");
  }
}

}  // namespace cs::cuda
