#include "io/augmentation/augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace cs {

namespace {

void check_size(int h, int w, const char* who) {
  if (h <= 0 || w <= 0)
    throw std::invalid_argument(std::string(who) + ": bad image size " + std::to_string(h) + "x" +
                                std::to_string(w));
}

// Mirror (reflect without repeating the edge sample, scipy 'mirror' / skimage 'reflect') of a
// coordinate into [0, n-1].
double mirror_coord(double x, int n) {
  if (n == 1) return 0.0;
  const double period = 2.0 * (n - 1);
  x = std::fmod(std::fabs(x), period);
  return x > n - 1 ? period - x : x;
}

// One axis of a linear resize: for each output index, the two input taps and the weight of the
// second one. Pixel-centre aligned: x = (o + 0.5) * in / out - 0.5.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> t;
};
Taps linear_taps_mirror(int in, int out) {
  Taps a;
  a.i0.resize(out);
  a.i1.resize(out);
  a.t.resize(out);
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    const double x = mirror_coord((o + 0.5) * scale - 0.5, in);
    int i0 = static_cast<int>(std::floor(x));
    if (i0 >= in - 1) i0 = std::max(in - 2, 0);
    const int i1 = std::min(i0 + 1, in - 1);
    a.i0[o] = i0;
    a.i1[o] = i1;
    a.t[o] = static_cast<float>(in == 1 ? 0.0 : x - i0);
  }
  return a;
}

// Linear sample of src [h][w] at (r, c); 0 outside [0, h-1] x [0, w-1] (scipy 'constant').
inline float sample_linear_or_zero(const float* src, int h, int w, double r, double c) {
  if (!(r >= 0.0 && r <= h - 1 && c >= 0.0 && c <= w - 1)) return 0.f;
  int r0 = static_cast<int>(r), c0 = static_cast<int>(c);
  if (r0 >= h - 1) r0 = std::max(h - 2, 0);
  if (c0 >= w - 1) c0 = std::max(w - 2, 0);
  const int r1 = std::min(r0 + 1, h - 1), c1 = std::min(c0 + 1, w - 1);
  const double tr = r - r0, tc = c - c0;
  const double top = src[r0 * w + c0] * (1 - tc) + src[r0 * w + c1] * tc;
  const double bot = src[r1 * w + c0] * (1 - tc) + src[r1 * w + c1] * tc;
  return static_cast<float>(top * (1 - tr) + bot * tr);
}

// Nearest sample (ties round up, as scipy order 0); 0 outside [0, h-1] x [0, w-1].
template <typename T>
inline T sample_nearest_or_zero(const T* src, int h, int w, double r, double c) {
  if (!(r >= 0.0 && r <= h - 1 && c >= 0.0 && c <= w - 1)) return T(0);
  const int ri = std::min(static_cast<int>(std::floor(r + 0.5)), h - 1);
  const int ci = std::min(static_cast<int>(std::floor(c + 0.5)), w - 1);
  return src[ri * w + ci];
}

// cos and sin of an angle in degrees, exact at multiples of 90 (like scipy.special.cosdg).
void cos_sin_deg(double deg, double* c, double* s) {
  const double q = deg / 90.0;
  if (q == std::floor(q)) {
    const int k = static_cast<int>(((static_cast<long long>(q) % 4) + 4) % 4);
    const double cs[4] = {1, 0, -1, 0}, sn[4] = {0, 1, 0, -1};
    *c = cs[k];
    *s = sn[k];
    return;
  }
  const double rad = deg * M_PI / 180.0;
  *c = std::cos(rad);
  *s = std::sin(rad);
}

// Rotation as scipy.ndimage.rotate(axes=(1, 0), reshape=False): the output pixel (r, c) reads
// the input at R (p - centre) + centre with R = [[cos, sin], [-sin, cos]] over (row, col).
template <typename Sampler>
void rotate_impl(int h, int w, double degrees, Sampler sample) {
  double cs, sn;
  cos_sin_deg(degrees, &cs, &sn);
  const double cr = (h - 1) / 2.0, cc = (w - 1) / 2.0;
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const double dr = r - cr, dc = c - cc;
      sample(r, c, cs * dr + sn * dc + cr, -sn * dr + cs * dc + cc);
    }
}

// Rescale geometry: output side round(scale * side) with numpy's round-half-to-even.
int scaled_side(int side, double scale) {
  const int n = static_cast<int>(std::nearbyint(scale * side));
  return std::max(n, 1);
}

// Centre crop or pad (per axis) of src [sh][sw] into dst [h][w], zero where padded.
template <typename T>
void crop_or_pad(const T* src, int sh, int sw, T* dst, int h, int w) {
  std::fill(dst, dst + static_cast<size_t>(h) * w, T(0));
  const int rs = sh > h ? (sh - h) / 2 : 0, rd = sh > h ? 0 : (h - sh) / 2;
  const int cs = sw > w ? (sw - w) / 2 : 0, cd = sw > w ? 0 : (w - sw) / 2;
  const int nr = std::min(sh, h), nc = std::min(sw, w);
  for (int r = 0; r < nr; ++r)
    std::copy(src + static_cast<size_t>(r + rs) * sw + cs, src + static_cast<size_t>(r + rs) * sw + cs + nc,
              dst + static_cast<size_t>(r + rd) * w + cd);
}

// Linear resample with zero padding beyond the edges, interpolating across them (scipy
// 'grid-constant', what skimage's mode='constant' becomes).
float zero_padded_linear(const float* src, int h, int w, double r, double c) {
  const int r0 = static_cast<int>(std::floor(r)), c0 = static_cast<int>(std::floor(c));
  const double tr = r - r0, tc = c - c0;
  auto at = [&](int y, int x) -> double {
    return (y < 0 || y >= h || x < 0 || x >= w) ? 0.0 : src[static_cast<size_t>(y) * w + x];
  };
  return static_cast<float>((at(r0, c0) * (1 - tc) + at(r0, c0 + 1) * tc) * (1 - tr) +
                            (at(r0 + 1, c0) * (1 - tc) + at(r0 + 1, c0 + 1) * tc) * tr);
}

// Cubic B-spline basis.
inline double bspline3(double t) {
  t = std::fabs(t);
  if (t < 1.0) return 2.0 / 3.0 - t * t + 0.5 * t * t * t;
  if (t < 2.0) {
    const double u = 2.0 - t;
    return u * u * u / 6.0;
  }
  return 0.0;
}

// Interpolating cubic B-spline coefficients of f (length n) for the mirror boundary:
// (c[i-1] + 4 c[i] + c[i+1]) / 6 = f[i] with c[-1] = c[1], c[n] = c[n-2]. Tridiagonal solve.
std::vector<double> spline_coeffs_mirror(const std::vector<double>& f) {
  const int n = static_cast<int>(f.size());
  if (n == 1) return f;
  std::vector<double> lo(n, 1.0 / 6), di(n, 4.0 / 6), up(n, 1.0 / 6), c(f);
  up[0] = 2.0 / 6;
  lo[n - 1] = 2.0 / 6;
  for (int i = 1; i < n; ++i) {  // forward elimination
    const double m = lo[i] / di[i - 1];
    di[i] -= m * up[i - 1];
    c[i] -= m * c[i - 1];
  }
  c[n - 1] /= di[n - 1];
  for (int i = n - 2; i >= 0; --i) c[i] = (c[i] - up[i] * c[i + 1]) / di[i];
  return c;
}

// Index of a mirrored coefficient (period 2n - 2).
inline int mirror_index(int k, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  k %= period;
  if (k < 0) k += period;
  return k > n - 1 ? period - k : k;
}

// One axis of a cubic resize: the 4 coefficient taps and weights of each output index.
struct CubicTaps {
  std::vector<int> idx;     // out x 4
  std::vector<double> wt;   // out x 4
};
CubicTaps cubic_taps(int in, int out) {
  CubicTaps a;
  a.idx.resize(static_cast<size_t>(out) * 4);
  a.wt.resize(static_cast<size_t>(out) * 4);
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    const double x = (o + 0.5) * scale - 0.5;
    const int k0 = static_cast<int>(std::floor(x)) - 1;
    for (int j = 0; j < 4; ++j) {
      a.idx[o * 4 + j] = mirror_index(k0 + j, in);
      a.wt[o * 4 + j] = bspline3(x - (k0 + j));
    }
  }
  return a;
}

}  // namespace

// ---------------------------------------------------------------- primitives

void resize_linear(const float* src, int sh, int sw, float* dst, int dh, int dw) {
  check_size(sh, sw, "resize_linear (input)");
  check_size(dh, dw, "resize_linear (output)");
  const Taps R = linear_taps_mirror(sh, dh), C = linear_taps_mirror(sw, dw);
  for (int r = 0; r < dh; ++r) {
    const float* a = src + static_cast<size_t>(R.i0[r]) * sw;
    const float* b = src + static_cast<size_t>(R.i1[r]) * sw;
    const float tr = R.t[r];
    float* o = dst + static_cast<size_t>(r) * dw;
    for (int c = 0; c < dw; ++c) {
      const int c0 = C.i0[c], c1 = C.i1[c];
      const float tc = C.t[c];
      const float top = a[c0] + (a[c1] - a[c0]) * tc;
      const float bot = b[c0] + (b[c1] - b[c0]) * tc;
      o[c] = top + (bot - top) * tr;
    }
  }
}

void resize_cubic(const double* src, int sh, int sw, float* dst, int dh, int dw) {
  check_size(sh, sw, "resize_cubic (input)");
  check_size(dh, dw, "resize_cubic (output)");
  // Prefilter along columns then rows (the 2D spline is the tensor product).
  std::vector<double> coef(src, src + static_cast<size_t>(sh) * sw);
  for (int r = 0; r < sh; ++r) {
    std::vector<double> row(coef.begin() + static_cast<size_t>(r) * sw, coef.begin() + static_cast<size_t>(r + 1) * sw);
    row = spline_coeffs_mirror(row);
    std::copy(row.begin(), row.end(), coef.begin() + static_cast<size_t>(r) * sw);
  }
  for (int c = 0; c < sw; ++c) {
    std::vector<double> col(sh);
    for (int r = 0; r < sh; ++r) col[r] = coef[static_cast<size_t>(r) * sw + c];
    col = spline_coeffs_mirror(col);
    for (int r = 0; r < sh; ++r) coef[static_cast<size_t>(r) * sw + c] = col[r];
  }
  const auto [lo_it, hi_it] = std::minmax_element(src, src + static_cast<size_t>(sh) * sw);
  const double lo = *lo_it, hi = *hi_it;
  const CubicTaps R = cubic_taps(sh, dh), C = cubic_taps(sw, dw);
  // Rows first: tmp [dh][sw], then columns.
  std::vector<double> tmp(static_cast<size_t>(dh) * sw);
  for (int r = 0; r < dh; ++r)
    for (int c = 0; c < sw; ++c) {
      double v = 0;
      for (int j = 0; j < 4; ++j) v += R.wt[r * 4 + j] * coef[static_cast<size_t>(R.idx[r * 4 + j]) * sw + c];
      tmp[static_cast<size_t>(r) * sw + c] = v;
    }
  for (int r = 0; r < dh; ++r)
    for (int c = 0; c < dw; ++c) {
      double v = 0;
      for (int j = 0; j < 4; ++j) v += C.wt[c * 4 + j] * tmp[static_cast<size_t>(r) * sw + C.idx[c * 4 + j]];
      dst[static_cast<size_t>(r) * dw + c] = static_cast<float>(std::clamp(v, lo, hi));
    }
}

void rotate(const float* src, int h, int w, double degrees, int order, float* dst) {
  check_size(h, w, "rotate");
  if (order != 0 && order != 1) throw std::invalid_argument("rotate: order must be 0 or 1");
  rotate_impl(h, w, degrees, [&](int r, int c, double ir, double ic) {
    dst[static_cast<size_t>(r) * w + c] =
        order == 1 ? sample_linear_or_zero(src, h, w, ir, ic) : sample_nearest_or_zero(src, h, w, ir, ic);
  });
}

void rotate_labels(const uint8_t* src, int h, int w, double degrees, uint8_t* dst) {
  check_size(h, w, "rotate_labels");
  rotate_impl(h, w, degrees, [&](int r, int c, double ir, double ic) {
    dst[static_cast<size_t>(r) * w + c] = sample_nearest_or_zero(src, h, w, ir, ic);
  });
}

void rescale_crop_pad(const float* src, int h, int w, double scale, int order, float* dst) {
  check_size(h, w, "rescale_crop_pad");
  if (!(scale > 0)) throw std::invalid_argument("rescale_crop_pad: scale must be positive");
  if (order != 0 && order != 1) throw std::invalid_argument("rescale_crop_pad: order must be 0 or 1");
  const int nh = scaled_side(h, scale), nw = scaled_side(w, scale);
  std::vector<float> tmp(static_cast<size_t>(nh) * nw);
  const double fr = static_cast<double>(h) / nh, fc = static_cast<double>(w) / nw;
  for (int r = 0; r < nh; ++r)
    for (int c = 0; c < nw; ++c) {
      const double ir = (r + 0.5) * fr - 0.5, ic = (c + 0.5) * fc - 0.5;
      float v;
      if (order == 1) {
        v = zero_padded_linear(src, h, w, ir, ic);
      } else {
        const int ri = static_cast<int>(std::floor(ir + 0.5)), ci = static_cast<int>(std::floor(ic + 0.5));
        v = (ri < 0 || ri >= h || ci < 0 || ci >= w) ? 0.f : src[static_cast<size_t>(ri) * w + ci];
      }
      tmp[static_cast<size_t>(r) * nw + c] = v;
    }
  crop_or_pad(tmp.data(), nh, nw, dst, h, w);
}

void rescale_crop_pad_labels(const uint8_t* src, int h, int w, double scale, uint8_t* dst) {
  std::vector<float> f(src, src + static_cast<size_t>(h) * w), out(f.size());
  rescale_crop_pad(f.data(), h, w, scale, 0, out.data());
  for (size_t i = 0; i < out.size(); ++i) dst[i] = static_cast<uint8_t>(out[i]);
}

void flip_lr(float* img, int h, int w) {
  for (int r = 0; r < h; ++r) std::reverse(img + static_cast<size_t>(r) * w, img + static_cast<size_t>(r + 1) * w);
}

void flip_lr_labels(uint8_t* lbl, int h, int w) {
  for (int r = 0; r < h; ++r) std::reverse(lbl + static_cast<size_t>(r) * w, lbl + static_cast<size_t>(r + 1) * w);
}

void dense_warp(const float* src, int h, int w, int c, const float* flow, float* dst) {
  check_size(h, w, "dense_warp");
  if (h < 2 || w < 2) throw std::invalid_argument("dense_warp: image must be at least 2x2");
  if (c <= 0) throw std::invalid_argument("dense_warp: no channels");
  for (int r = 0; r < h; ++r)
    for (int q = 0; q < w; ++q) {
      const size_t p = static_cast<size_t>(r) * w + q;
      // As TF's interpolate_bilinear: floor clamped to [0, size-2], weight clamped to [0, 1].
      const float qr = static_cast<float>(r) - flow[2 * p], qc = static_cast<float>(q) - flow[2 * p + 1];
      const int r0 = std::clamp(static_cast<int>(std::floor(qr)), 0, h - 2);
      const int c0 = std::clamp(static_cast<int>(std::floor(qc)), 0, w - 2);
      const float ar = std::clamp(qr - r0, 0.f, 1.f), ac = std::clamp(qc - c0, 0.f, 1.f);
      const float* tl = src + (static_cast<size_t>(r0) * w + c0) * c;
      const float* tr = tl + c;
      const float* bl = tl + static_cast<size_t>(w) * c;
      const float* br = bl + c;
      float* o = dst + p * c;
      for (int k = 0; k < c; ++k) {
        const float top = tl[k] + ac * (tr[k] - tl[k]);
        const float bot = bl[k] + ac * (br[k] - bl[k]);
        o[k] = top + ar * (bot - top);
      }
    }
}

// ---------------------------------------------------------------- global and local views

CropWindow draw_crop(int h, int w, Rng& rng, const CropConfig& cfg) {
  check_size(h, w, "draw_crop");
  if (cfg.box <= 0 || cfg.lo < 0 || cfg.hi < cfg.lo)
    throw std::invalid_argument("draw_crop: bad crop config (box " + std::to_string(cfg.box) +
                                ", corner range [" + std::to_string(cfg.lo) + ", " + std::to_string(cfg.hi) + "])");
  if (cfg.hi >= h || cfg.hi >= w)
    throw std::invalid_argument("draw_crop: corner range up to " + std::to_string(cfg.hi) +
                                " does not fit a " + std::to_string(h) + "x" + std::to_string(w) + " image");
  CropWindow win;
  win.row = rng.uniform_int(cfg.lo, cfg.hi);
  win.col = rng.uniform_int(cfg.lo, cfg.hi);
  win.rows = std::min(cfg.box, h - win.row);  // numpy slicing past the border: smaller crop
  win.cols = std::min(cfg.box, w - win.col);
  return win;
}

void crop_resize(const float* src, int h, int w, const CropWindow& win, float* dst) {
  if (win.row < 0 || win.col < 0 || win.rows <= 0 || win.cols <= 0 || win.row + win.rows > h ||
      win.col + win.cols > w)
    throw std::invalid_argument("crop_resize: window (" + std::to_string(win.row) + ", " +
                                std::to_string(win.col) + ", " + std::to_string(win.rows) + "x" +
                                std::to_string(win.cols) + ") outside a " + std::to_string(h) + "x" +
                                std::to_string(w) + " image");
  std::vector<float> crop(static_cast<size_t>(win.rows) * win.cols);
  for (int r = 0; r < win.rows; ++r)
    std::copy(src + static_cast<size_t>(win.row + r) * w + win.col,
              src + static_cast<size_t>(win.row + r) * w + win.col + win.cols,
              crop.begin() + static_cast<size_t>(r) * win.cols);
  resize_linear(crop.data(), win.rows, win.cols, dst, h, w);
}

Intensity draw_intensity(Rng& rng, float max_delta, float lo, float hi) {
  Intensity t;
  t.delta = static_cast<float>(rng.uniform(-max_delta, max_delta));
  t.factor = static_cast<float>(rng.uniform(lo, hi));
  return t;
}

Intensity coupled_intensity(double u) {
  Intensity t;
  t.delta = static_cast<float>(0.6 * u - 0.3);
  t.factor = static_cast<float>(0.7 + 0.6 * u);
  return t;
}

void apply_intensity(float* img, int n, const Intensity& t, float clip_lo, float clip_hi) {
  if (n <= 0) return;
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += img[i];
  const float mean = static_cast<float>(sum / n) + t.delta;  // mean after brightness
  const bool clip = clip_lo <= clip_hi;
  for (int i = 0; i < n; ++i) {
    float v = (img[i] + t.delta - mean) * t.factor + mean;
    if (clip) v = std::min(std::max(v, clip_lo), clip_hi);
    img[i] = v;
  }
}

// ---------------------------------------------------------------- fine-tuning

void random_flow(int h, int w, double sigma, Rng& rng, float* flow) {
  check_size(h, w, "random_flow");
  std::vector<float> up(static_cast<size_t>(h) * w);
  for (int ch = 0; ch < 2; ++ch) {
    double grid[9];
    for (double& g : grid) g = rng.normal(0.0, sigma);
    resize_cubic(grid, 3, 3, up.data(), h, w);
    for (size_t p = 0; p < up.size(); ++p) flow[2 * p + ch] = up[p];
  }
}

void augment_finetune(const float* images, const uint8_t* labels, int b, int h, int w,
                      int num_classes, Compat mode, const FinetuneAugOptions& opt, Rng& rng,
                      float* out_images, float* out_labels, FinetuneRecord* record) {
  check_size(h, w, "augment_finetune");
  if (b <= 0) throw std::invalid_argument("augment_finetune: empty batch");
  if (num_classes < 1 || num_classes > 255)
    throw std::invalid_argument("augment_finetune: num_classes " + std::to_string(num_classes));
  if (opt.deform && b < 3)
    throw std::invalid_argument("augment_finetune: deformation needs a batch of at least 3 (got " +
                                std::to_string(b) + ")");
  const size_t n = static_cast<size_t>(h) * w;
  FinetuneRecord rec;
  rec.affine_option.assign(b, 4);
  rec.affine_param.assign(b, 0.0);
  rec.intensity.assign(b, Intensity{});

  std::vector<uint8_t> lbl(labels, labels + static_cast<size_t>(b) * n);
  for (size_t i = 0; i < lbl.size(); ++i)
    if (lbl[i] >= num_classes)
      throw std::invalid_argument("augment_finetune: label value " + std::to_string(lbl[i]) +
                                  " at image " + std::to_string(i / n) + " is not below num_classes " +
                                  std::to_string(num_classes));
  std::copy(images, images + static_cast<size_t>(b) * n, out_images);

  // (a) affine, per image.
  if (opt.affine) {
    std::vector<float> tmp_img(n), lf(n), lo(n);
    std::vector<uint8_t> tmp_lbl(n);
    // Replaces an image and its labels by a geometric transform of both (image linear, order 1).
    const auto transform = [&](float* img, uint8_t* lab, double param,
                               void (*image_op)(const float*, int, int, double, int, float*),
                               void (*label_op)(const uint8_t*, int, int, double, uint8_t*)) {
      image_op(img, h, w, param, 1, tmp_img.data());
      std::copy(tmp_img.begin(), tmp_img.end(), img);
      label_op(lab, h, w, param, tmp_lbl.data());
      std::copy(tmp_lbl.begin(), tmp_lbl.end(), lab);
    };
    for (int i = 0; i < b; ++i) {
      float* img = out_images + i * n;
      uint8_t* lab = lbl.data() + i * n;
      const int option = rng.uniform_int(0, 4);  // drawn first, as the method does
      const float mx = *std::max_element(img, img + n);
      if (!(mx > 0.001f)) {
        rec.affine_option[i] = -1;
        continue;
      }
      rec.affine_option[i] = option;
      switch (option) {
        case 0:
        case 3: {
          const double angle = option == 0 ? rng.uniform(-15.0, 15.0) : 45.0 * rng.uniform_int(0, 7);
          rec.affine_param[i] = angle;
          transform(img, lab, angle, rotate, rotate_labels);
          break;
        }
        case 1: {
          const double scale = std::round(rng.uniform(0.95, 1.05) * 100.0) / 100.0;
          rec.affine_param[i] = scale;
          transform(img, lab, scale, rescale_crop_pad, rescale_crop_pad_labels);
          break;
        }
        case 2: {
          const bool flip = rng.uniform_int(0, 1) == 0;
          rec.affine_param[i] = flip ? 1.0 : 0.0;
          if (flip) {
            flip_lr(img, h, w);
            flip_lr_labels(lab, h, w);
          }
          break;
        }
        default:
          break;
      }
    }
  }

  // One-hot labels, channels last.
  const int C = num_classes;
  std::fill(out_labels, out_labels + static_cast<size_t>(b) * n * C, 0.f);
  for (size_t p = 0; p < static_cast<size_t>(b) * n; ++p) out_labels[p * C + lbl[p]] = 1.f;

  // (b)+(c) deformation of images n..b-1 (n uniform in [1, b-2]: [1, 18] for the batch of 20).
  if (opt.deform) {
    rec.first_deformed = rng.uniform_int(1, b - 2);
    std::vector<float> flow(2 * n), tmp(n * std::max(C, 1));
    for (int i = 0; i < b; ++i) {
      // A field is drawn for every image (the method deforms the whole batch, then keeps some).
      random_flow(h, w, opt.sigma, rng, flow.data());
      if (i < rec.first_deformed) continue;
      dense_warp(out_images + i * n, h, w, 1, flow.data(), tmp.data());
      std::copy(tmp.begin(), tmp.begin() + n, out_images + i * n);
      dense_warp(out_labels + i * n * C, h, w, C, flow.data(), tmp.data());
      std::copy(tmp.begin(), tmp.begin() + n * C, out_labels + i * n * C);
    }
  }

  // (d) intensity: contrast on the first half, brightness on the second half, applied to the
  // deformed images (or to all images when deformation is off).
  const bool intensity = opt.intensity < 0 ? mode == Compat::Paper : opt.intensity != 0;
  if (intensity) {
    const int first = opt.deform ? rec.first_deformed : 0;
    for (int i = 0; i < b; ++i) {
      Intensity t;
      if (i < b / 2)
        t.factor = static_cast<float>(rng.uniform(0.8, 1.2));
      else
        t.delta = static_cast<float>(rng.uniform(-0.1, 0.1));
      if (i < first) continue;
      rec.intensity[i] = t;
      apply_intensity(out_images + i * n, static_cast<int>(n), t, 1.f, 0.f);  // no clipping
    }
  }
  if (record) *record = std::move(rec);
}

void gather_slices(const std::vector<SliceStack>& stacks, const std::vector<SliceRef>& refs,
                   float* images, uint8_t* labels) {
  for (size_t i = 0; i < refs.size(); ++i) {
    const SliceRef& r = refs[i];
    if (r.volume < 0 || r.volume >= static_cast<int>(stacks.size()))
      throw std::invalid_argument("gather_slices: volume " + std::to_string(r.volume) + " of " +
                                  std::to_string(stacks.size()));
    const SliceStack& s = stacks[r.volume];
    if (s.h != stacks[0].h || s.w != stacks[0].w)
      throw std::invalid_argument("gather_slices: volumes have different slice sizes");
    const size_t n = s.slice_size();
    std::copy(s.slice(r.slice), s.slice(r.slice) + n, images + i * n);
    if (labels) {
      const uint8_t* l = s.label_slice(r.slice);
      std::copy(l, l + n, labels + i * n);
    }
  }
}

}  // namespace cs
