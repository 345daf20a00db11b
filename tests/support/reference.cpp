#include "support/reference.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace cs::ref {

Vec conv2d(const Vec& x, Nhwc xs, const Vec& w, int64_t cout, int64_t kh, int64_t kw, const Vec& b) {
  const int64_t ph = (kh - 1) / 2, pw = (kw - 1) / 2;  // rows/cols of padding before
  const Nhwc ys{xs.n, xs.h, xs.w, cout};
  Vec y(ys.numel());
  for (int64_t n = 0; n < xs.n; ++n)
    for (int64_t i = 0; i < xs.h; ++i)
      for (int64_t j = 0; j < xs.w; ++j)
        for (int64_t o = 0; o < cout; ++o) {
          double s = b.empty() ? 0.0 : b[o];
          for (int64_t a = 0; a < kh; ++a)
            for (int64_t e = 0; e < kw; ++e) {
              const int64_t ii = i + a - ph, jj = j + e - pw;
              if (ii < 0 || ii >= xs.h || jj < 0 || jj >= xs.w) continue;  // zero padding
              for (int64_t c = 0; c < xs.c; ++c)
                s += x[xs.at(n, ii, jj, c)] * w[((o * kh + a) * kw + e) * xs.c + c];
            }
          y[ys.at(n, i, j, o)] = s;
        }
  return y;
}

Vec batch_norm_train(const Vec& x, int64_t C, const Vec& gamma, const Vec& beta, double eps,
                     Vec* mean_out, Vec* var_out) {
  const int64_t rows = static_cast<int64_t>(x.size()) / C;
  Vec mean(C, 0.0), var(C, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) mean[c] += x[r * C + c];
  for (auto& m : mean) m /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) var[c] += (x[r * C + c] - mean[c]) * (x[r * C + c] - mean[c]);
  for (auto& v : var) v /= static_cast<double>(rows);
  Vec y(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = gamma[c] * (x[r * C + c] - mean[c]) / std::sqrt(var[c] + eps) + beta[c];
  if (mean_out) *mean_out = mean;
  if (var_out) *var_out = var;
  return y;
}

Vec batch_norm_infer(const Vec& x, int64_t C, const Vec& gamma, const Vec& beta, const Vec& rmean,
                     const Vec& rvar, double eps) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = i % C;
    y[i] = gamma[c] * (x[i] - rmean[c]) / std::sqrt(rvar[c] + eps) + beta[c];
  }
  return y;
}

Vec relu(const Vec& x) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : 0.0;
  return y;
}

Vec maxpool2x2(const Vec& x, Nhwc xs) {
  const Nhwc ys{xs.n, (xs.h + 1) / 2, (xs.w + 1) / 2, xs.c};
  Vec y(ys.numel());
  for (int64_t n = 0; n < ys.n; ++n)
    for (int64_t i = 0; i < ys.h; ++i)
      for (int64_t j = 0; j < ys.w; ++j)
        for (int64_t c = 0; c < xs.c; ++c) {
          double m = -INFINITY;
          for (int64_t a = 2 * i; a < std::min(2 * i + 2, xs.h); ++a)
            for (int64_t e = 2 * j; e < std::min(2 * j + 2, xs.w); ++e) m = std::max(m, x[xs.at(n, a, e, c)]);
          y[ys.at(n, i, j, c)] = m;
        }
  return y;
}

Vec upsample2x(const Vec& x, Nhwc xs) {
  const Nhwc ys{xs.n, 2 * xs.h, 2 * xs.w, xs.c};
  Vec y(ys.numel());
  for (int64_t n = 0; n < ys.n; ++n)
    for (int64_t i = 0; i < ys.h; ++i)
      for (int64_t j = 0; j < ys.w; ++j)
        for (int64_t c = 0; c < ys.c; ++c) y[ys.at(n, i, j, c)] = x[xs.at(n, i / 2, j / 2, c)];
  return y;
}

Vec concat_channels(const Vec& a, int64_t ca, const Vec& b, int64_t cb) {
  const int64_t rows = static_cast<int64_t>(a.size()) / ca;
  if (rows * cb != static_cast<int64_t>(b.size())) throw std::invalid_argument("ref::concat_channels sizes");
  Vec y(rows * (ca + cb));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ca; ++c) y[r * (ca + cb) + c] = a[r * ca + c];
    for (int64_t c = 0; c < cb; ++c) y[r * (ca + cb) + ca + c] = b[r * cb + c];
  }
  return y;
}

Vec linear(const Vec& x, int64_t n, int64_t din, const Vec& w, int64_t dout) {
  Vec y(n * dout, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < dout; ++o)
      for (int64_t k = 0; k < din; ++k) y[i * dout + o] += x[i * din + k] * w[o * din + k];
  return y;
}

Vec softmax(const Vec& x, int64_t C) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / C; ++r) {
    double m = -INFINITY, s = 0.0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, x[r * C + c]);
    for (int64_t c = 0; c < C; ++c) s += std::exp(x[r * C + c] - m);
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = std::exp(x[r * C + c] - m) / s;
  }
  return y;
}

Vec add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

Vec mul(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] * b[i];
  return y;
}

Vec scale(const Vec& x, double s) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = s * x[i];
  return y;
}

double sum(const Vec& x) {
  double s = 0.0;
  for (double v : x) s += v;
  return s;
}

}  // namespace cs::ref
