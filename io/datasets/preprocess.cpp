#include "io/datasets/preprocess.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace cs {
namespace {

std::string dims_str(int a, int b, int c) {
  return std::to_string(a) + "x" + std::to_string(b) + "x" + std::to_string(c);
}

void check_array(const char* fn, int h, int w, int c, int oh, int ow) {
  if (h <= 0 || w <= 0 || c <= 0 || oh <= 0 || ow <= 0)
    throw std::invalid_argument(std::string(fn) + ": bad sizes " + dims_str(h, w, c) + " -> " +
                                std::to_string(oh) + "x" + std::to_string(ow));
}

// One output sample of linear interpolation: input taps i0 and i0 + 1 with weights w0, w1.
struct Tap {
  int i0;
  double w0, w1;
};

// Grid convention of scipy.ndimage.zoom(grid_mode=True): c = (o + 0.5) * n_in / n_out - 0.5.
double grid_coord(int o, double zoom) { return (o + 0.5) * zoom - 0.5; }

std::vector<Tap> linear_taps(int n_in, int n_out) {
  const double zoom = static_cast<double>(n_in) / n_out;
  std::vector<Tap> taps(n_out);
  for (int o = 0; o < n_out; ++o) {
    const double c = grid_coord(o, zoom);
    const double f = std::floor(c);
    taps[o] = {static_cast<int>(f), 1.0 - (c - f), c - f};
  }
  return taps;
}

// Value of a zero-extended ('grid-constant', cval 0) line at tap t.
template <typename Get>
double sample(const Tap& t, int n, Get get) {
  double v = 0;
  if (t.i0 >= 0 && t.i0 < n) v += t.w0 * get(t.i0);
  if (t.i0 + 1 >= 0 && t.i0 + 1 < n) v += t.w1 * get(t.i0 + 1);
  return v;
}

// scikit-image's clip=True: clip to the input range, widened to 0 when the output reaches the
// constant 0 that lies outside the input range.
void clip_like_skimage(const float* src, size_t n_src, std::vector<float>& out) {
  if (n_src == 0 || out.empty()) return;
  const auto [smin, smax] = std::minmax_element(src, src + n_src);
  float lo = *smin, hi = *smax;
  const auto [omin, omax] = std::minmax_element(out.begin(), out.end());
  const bool preserve_cval = !(lo <= 0.f && 0.f <= hi) && (*omin <= 0.f && 0.f <= *omax);
  if (preserve_cval) {
    lo = std::min(lo, 0.f);
    hi = std::max(hi, 0.f);
  }
  for (float& x : out) x = std::min(std::max(x, lo), hi);
}

}  // namespace

PreprocessParams dataset_params(const std::string& dataset) {
  PreprocessParams p;
  if (dataset == "acdc") {
    p.target_dx = p.target_dy = 1.36719;
    p.out_h = p.out_w = 192;
    p.num_classes = 4;
    p.class_names = {"bg", "RV", "Myo", "LV"};
  } else if (dataset == "prostate") {
    p.target_dx = p.target_dy = 0.625;
    p.out_h = p.out_w = 192;
    p.num_classes = 3;
    p.class_names = {"bg", "PZ", "TZ"};  // MSD Task05 labels as stored (docs/method.md §6.1)
  } else if (dataset == "mmwhs") {
    p.target_dx = p.target_dy = 1.5;
    p.out_h = p.out_w = 160;
    p.num_classes = 8;
    p.class_names = {"bg", "Myo", "LA", "LV", "RA", "RV", "AA", "PA"};
  } else {
    throw std::invalid_argument("no preprocessing constants for dataset '" + dataset +
                                "' (acdc, prostate or mmwhs)");
  }
  return p;
}

double percentile(std::vector<float> values, double q) {
  if (values.empty()) throw std::invalid_argument("percentile of an empty set");
  if (!(q >= 0 && q <= 100)) throw std::invalid_argument("percentile q must be in [0, 100]");
  const double index = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(index));
  const double t = index - static_cast<double>(lo);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double a = values[lo];
  if (lo + 1 >= values.size() || t == 0) return a;
  const double b = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  // numpy's _lerp: a + (b - a) t, computed from the nearer end for t >= 0.5
  return t >= 0.5 ? b - (b - a) * (1.0 - t) : a + (b - a) * t;
}

void normalize_percentile(Volume& v) {
  const double p1 = percentile(v.data, 1.0), p99 = percentile(v.data, 99.0);
  if (!(p99 > p1))
    throw std::runtime_error("cannot normalise a volume whose 1st and 99th percentiles are equal (" +
                             std::to_string(p1) + ")");
  const double inv = 1.0 / (p99 - p1);
  for (float& x : v.data) x = static_cast<float>((x - p1) * inv);
}

int rescaled_size(int n, double scale) {
  if (n <= 0 || !(scale > 0) || !std::isfinite(scale))
    throw std::invalid_argument("rescaled_size: bad size " + std::to_string(n) + " or scale " + std::to_string(scale));
  const double r = std::nearbyint(static_cast<double>(n) * scale);  // round half to even, as numpy
  if (r > 1e6) throw std::invalid_argument("rescaled_size: " + std::to_string(n) + " x " + std::to_string(scale) + " is absurd");
  return std::max(1, static_cast<int>(r));
}

std::vector<float> resize_linear(const float* src, int in_h, int in_w, int C, int out_h, int out_w) {
  check_array("resize_linear", in_h, in_w, C, out_h, out_w);
  const auto th = linear_taps(in_h, out_h), tw = linear_taps(in_w, out_w);
  // along w, then along h (separable; the same weights as the 2D bilinear sum)
  std::vector<double> tmp(static_cast<size_t>(in_h) * out_w * C);
  for (int r = 0; r < in_h; ++r)
    for (int o = 0; o < out_w; ++o)
      for (int c = 0; c < C; ++c)
        tmp[(static_cast<size_t>(r) * out_w + o) * C + c] =
            sample(tw[o], in_w, [&](int i) { return static_cast<double>(src[(static_cast<size_t>(r) * in_w + i) * C + c]); });
  std::vector<float> out(static_cast<size_t>(out_h) * out_w * C);
  for (int o = 0; o < out_h; ++o)
    for (int q = 0; q < out_w; ++q)
      for (int c = 0; c < C; ++c)
        out[(static_cast<size_t>(o) * out_w + q) * C + c] = static_cast<float>(
            sample(th[o], in_h, [&](int i) { return tmp[(static_cast<size_t>(i) * out_w + q) * C + c]; }));
  clip_like_skimage(src, static_cast<size_t>(in_h) * in_w * C, out);
  return out;
}

std::vector<float> resize_nearest(const float* src, int in_h, int in_w, int C, int out_h, int out_w) {
  check_array("resize_nearest", in_h, in_w, C, out_h, out_w);
  auto index = [](int n_in, int n_out) {
    const double zoom = static_cast<double>(n_in) / n_out;
    std::vector<int> idx(n_out);
    for (int o = 0; o < n_out; ++o) idx[o] = static_cast<int>(std::floor(grid_coord(o, zoom) + 0.5));
    return idx;
  };
  const auto ih = index(in_h, out_h), iw = index(in_w, out_w);
  std::vector<float> out(static_cast<size_t>(out_h) * out_w * C, 0.f);
  for (int o = 0; o < out_h; ++o) {
    if (ih[o] < 0 || ih[o] >= in_h) continue;  // the constant 0 (cannot happen with the grid convention)
    for (int q = 0; q < out_w; ++q) {
      if (iw[q] < 0 || iw[q] >= in_w) continue;
      for (int c = 0; c < C; ++c)
        out[(static_cast<size_t>(o) * out_w + q) * C + c] = src[(static_cast<size_t>(ih[o]) * in_w + iw[q]) * C + c];
    }
  }
  return out;
}

namespace {
// Per axis: source start, destination start and count of a centre crop (in > out) or pad.
struct Span {
  int src, dst, n;
};
Span centre_span(int in, int out) {
  if (in > out) return {(in - out) / 2, 0, out};
  return {0, (out - in) / 2, in};
}
}  // namespace

std::vector<float> crop_or_pad(const float* src, int in_h, int in_w, int C, int out_h, int out_w) {
  check_array("crop_or_pad", in_h, in_w, C, out_h, out_w);
  const Span sh = centre_span(in_h, out_h), sw = centre_span(in_w, out_w);
  std::vector<float> out(static_cast<size_t>(out_h) * out_w * C, 0.f);
  for (int r = 0; r < sh.n; ++r)
    std::copy_n(src + (static_cast<size_t>(sh.src + r) * in_w + sw.src) * C, static_cast<size_t>(sw.n) * C,
                out.begin() + static_cast<std::ptrdiff_t>((static_cast<size_t>(sh.dst + r) * out_w + sw.dst) * C));
  return out;
}

// The centre crop or pad with the two sizes swapped puts each kept pixel back where it was.
std::vector<float> uncrop(const float* src, int out_h, int out_w, int C, int in_h, int in_w) {
  check_array("uncrop", in_h, in_w, C, out_h, out_w);
  return crop_or_pad(src, out_h, out_w, C, in_h, in_w);
}

SliceGeometry slice_geometry(const Volume& native, const PreprocessParams& p) {
  if (native.nx <= 0 || native.ny <= 0 || native.nz <= 0)
    throw std::invalid_argument("slice_geometry: empty volume " + dims_str(native.nx, native.ny, native.nz));
  if (!(p.target_dx > 0) || !(p.target_dy > 0) || p.out_h <= 0 || p.out_w <= 0)
    throw std::invalid_argument("slice_geometry: bad preprocessing parameters");
  SliceGeometry g;
  g.nx = native.nx;
  g.ny = native.ny;
  g.nz = native.nz;
  g.rx = rescaled_size(native.nx, static_cast<double>(native.dx) / p.target_dx);
  g.ry = rescaled_size(native.ny, static_cast<double>(native.dy) / p.target_dy);
  g.h = p.out_h;
  g.w = p.out_w;
  return g;
}

std::vector<float> volume_slice(const Volume& v, int z) {
  if (z < 0 || z >= v.nz) throw std::out_of_range("volume_slice: slice " + std::to_string(z) + " of " + std::to_string(v.nz));
  if (v.data.size() != v.size()) throw std::invalid_argument("volume_slice: data size does not match the dims");
  std::vector<float> s(static_cast<size_t>(v.nx) * v.ny);
  for (int y = 0; y < v.ny; ++y)
    for (int x = 0; x < v.nx; ++x) s[static_cast<size_t>(x) * v.ny + y] = v.at(x, y, z);
  return s;
}

void check_label_value(float v, int num_classes, const std::string& what, int x, int y, int z) {
  if (v >= 0 && v < num_classes && v == std::floor(v)) return;
  const std::string value = std::isfinite(v) && v == std::floor(v) ? fmt::format("{}", v) : fmt::format("{:g}", v);
  throw std::invalid_argument(fmt::format(
      "{}: label value {} at voxel ({}, {}, {}) is not a class of this dataset (integers 0..{}, num_classes = {}); "
      "fix the label file, or set num_classes if the dataset has more classes",
      what, value, x, y, z, num_classes - 1, num_classes));
}

SliceStack preprocess_volume(const Volume& image, const Volume* label, const PreprocessParams& p,
                             const std::string& what, const std::string& label_what) {
  if (label && (p.num_classes < 1 || p.num_classes > 256))
    throw std::invalid_argument(what + ": num_classes " + std::to_string(p.num_classes) + " is not in 1..256");
  const SliceGeometry g = slice_geometry(image, p);
  if (label && (label->nx != image.nx || label->ny != image.ny || label->nz != image.nz))
    throw std::invalid_argument(what + ": label dims " + dims_str(label->nx, label->ny, label->nz) +
                                " differ from image dims " + dims_str(image.nx, image.ny, image.nz));
  Volume img = image;
  normalize_percentile(img);
  SliceStack s(g.nz, g.h, g.w, label != nullptr);
  const size_t plane = s.slice_size();
  for (int z = 0; z < g.nz; ++z) {
    const auto sl = volume_slice(img, z);
    const auto r = resize_linear(sl.data(), g.nx, g.ny, 1, g.rx, g.ry);
    const auto c = crop_or_pad(r.data(), g.rx, g.ry, 1, g.h, g.w);
    std::copy(c.begin(), c.end(), s.image.begin() + static_cast<std::ptrdiff_t>(z * plane));
    if (!label) continue;
    const auto ls = volume_slice(*label, z);
    for (size_t i = 0; i < ls.size(); ++i) check_label_value(ls[i], p.num_classes, label_what.empty() ? what : label_what, static_cast<int>(i) / label->ny,
                        static_cast<int>(i) % label->ny, z);
    const auto lr = resize_nearest(ls.data(), g.nx, g.ny, 1, g.rx, g.ry);
    const auto lc = crop_or_pad(lr.data(), g.rx, g.ry, 1, g.h, g.w);
    for (size_t i = 0; i < plane; ++i) s.label[z * plane + i] = static_cast<uint8_t>(lc[i]);
  }
  return s;
}

Volume probabilities_to_labels(const std::vector<float>& prob, int C, const Volume& native, const PreprocessParams& p) {
  const SliceGeometry g = slice_geometry(native, p);
  if (C <= 0 || C > 255) throw std::invalid_argument("probabilities_to_labels: bad class count " + std::to_string(C));
  const size_t per_slice = static_cast<size_t>(g.h) * g.w * C;
  if (prob.size() != per_slice * g.nz)
    throw std::invalid_argument("probabilities_to_labels: " + std::to_string(prob.size()) + " values, expected " +
                                std::to_string(g.nz) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w) + "x" +
                                std::to_string(C));
  std::vector<float> labels(native.size());
  for (int z = 0; z < g.nz; ++z) {
    const auto canvas = uncrop(prob.data() + z * per_slice, g.h, g.w, C, g.rx, g.ry);
    const auto back = resize_linear(canvas.data(), g.rx, g.ry, C, g.nx, g.ny);
    for (int x = 0; x < g.nx; ++x)
      for (int y = 0; y < g.ny; ++y) {
        const float* q = back.data() + (static_cast<size_t>(x) * g.ny + y) * C;
        labels[native.index(x, y, z)] = static_cast<float>(std::max_element(q, q + C) - q);  // first max
      }
  }
  Volume out;  // native geometry without copying its voxels
  {
    Volume geom = native;
    geom.data.clear();
    out = std::move(geom);
  }
  out.data = std::move(labels);
  out.datatype = 2;
  out.scl_slope = out.scl_inter = 0;
  out.nt = 1;
  out.t = 0;
  return out;
}

Volume stack_to_volume(const SliceStack& s, const Volume& native, const PreprocessParams& p, bool label) {
  const SliceGeometry g = slice_geometry(native, p);
  if (s.z != g.nz || s.h != g.h || s.w != g.w)
    throw std::invalid_argument("stack_to_volume: stack " + dims_str(s.z, s.h, s.w) + " does not come from this volume");
  if (label && !s.has_labels()) throw std::invalid_argument("stack_to_volume: the stack has no labels");
  Volume v;
  {
    Volume geom = native;
    geom.data.clear();
    v = std::move(geom);
  }
  v.nx = g.h;
  v.ny = g.w;
  v.nz = g.nz;
  v.data.resize(v.size());
  const size_t plane = s.slice_size();
  for (int z = 0; z < g.nz; ++z)
    for (int i = 0; i < g.h; ++i)
      for (int j = 0; j < g.w; ++j) {
        const size_t k = z * plane + static_cast<size_t>(i) * g.w + j;
        v.at(i, j, z) = label ? static_cast<float>(s.label[k]) : s.image[k];
      }
  // Output voxel (i, j, k) sits at native coordinates (i * sx + tx, j * sy + ty, k): the rescale
  // maps rescaled index r to native (r + 0.5) * n / n_r - 0.5, and the crop/pad shifts r.
  const double sx = static_cast<double>(g.nx) / g.rx, sy = static_cast<double>(g.ny) / g.ry;
  const int offx = g.rx > g.h ? (g.rx - g.h) / 2 : -((g.h - g.rx) / 2);
  const int offy = g.ry > g.w ? (g.ry - g.w) / 2 : -((g.w - g.ry) / 2);
  const double tx = (offx + 0.5) * sx - 0.5, ty = (offy + 0.5) * sy - 0.5;
  auto compose = [&](double m[4][4]) {  // m := m * [[sx,0,0,tx],[0,sy,0,ty],[0,0,1,0],[0,0,0,1]]
    for (int r = 0; r < 4; ++r) {
      const double a = m[r][0], b = m[r][1];
      m[r][3] += a * tx + b * ty;
      m[r][0] = a * sx;
      m[r][1] = b * sy;
    }
  };
  compose(v.sto_xyz);
  compose(v.qto_xyz);
  v.dx = static_cast<float>(native.dx * sx);
  v.dy = static_cast<float>(native.dy * sy);
  v.qoffset_x = v.qto_xyz[0][3];
  v.qoffset_y = v.qto_xyz[1][3];
  v.qoffset_z = v.qto_xyz[2][3];
  v.datatype = label ? 2 : 16;
  v.scl_slope = v.scl_inter = 0;
  v.nt = 1;
  v.t = 0;
  return v;
}

}  // namespace cs
