#pragma once
// Naive double-precision reference implementations of the op forwards, in plain loops over
// std::vector<double>. They define what each op computes (tests compare the kernels against
// them and differentiate them by finite differences); they are written for clarity, not speed.
// Layouts match the product: activations NHWC, conv weights OHWI [Cout,KH,KW,Cin].
#include <cstdint>
#include <vector>

namespace cs::ref {

using Vec = std::vector<double>;

// Size of one NHWC activation.
struct Nhwc {
  int64_t n, h, w, c;
  int64_t numel() const { return n * h * w * c; }
  int64_t at(int64_t in, int64_t ih, int64_t iw, int64_t ic) const { return ((in * h + ih) * w + iw) * c + ic; }
};

// x [N,H,W,Cin], w [Cout,KH,KW,Cin], b [Cout] (empty: no bias) -> [N,H,W,Cout].
// Stride 1, TF SAME: pad_before = (k-1)/2, pad_after = k-1-pad_before.
Vec conv2d(const Vec& x, Nhwc xs, const Vec& w, int64_t cout, int64_t kh, int64_t kw, const Vec& b);

// x [rows, C] (any leading dims flattened) -> y; batch mean and biased variance per channel.
// mean_out / var_out (optional) receive the batch mean and the biased variance.
Vec batch_norm_train(const Vec& x, int64_t C, const Vec& gamma, const Vec& beta, double eps,
                     Vec* mean_out = nullptr, Vec* var_out = nullptr);
// Inference: y = gamma*(x - rmean)/sqrt(rvar + eps) + beta.
Vec batch_norm_infer(const Vec& x, int64_t C, const Vec& gamma, const Vec& beta, const Vec& rmean,
                     const Vec& rvar, double eps);

Vec relu(const Vec& x);
// [N,H,W,C] -> [N,ceil(H/2),ceil(W/2),C], max over each (clipped) 2x2 window.
Vec maxpool2x2(const Vec& x, Nhwc xs);
// [N,H,W,C] -> [N,2H,2W,C], nearest neighbour.
Vec upsample2x(const Vec& x, Nhwc xs);
// a [rows,Ca], b [rows,Cb] -> [rows,Ca+Cb], a first.
Vec concat_channels(const Vec& a, int64_t ca, const Vec& b, int64_t cb);
// x [N,Din], w [Dout,Din] -> [N,Dout] = x w^T.
Vec linear(const Vec& x, int64_t n, int64_t din, const Vec& w, int64_t dout);
// Over the last dimension of size C.
Vec softmax(const Vec& x, int64_t C);

Vec add(const Vec& a, const Vec& b);
Vec mul(const Vec& a, const Vec& b);
Vec scale(const Vec& x, double s);
double sum(const Vec& x);

}  // namespace cs::ref
