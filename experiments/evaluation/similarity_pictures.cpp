#include "experiments/evaluation/similarity_pictures.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "experiments/evaluation/pictures.h"

namespace cs {
namespace {

const Rgb kNegative{70, 70, 70};
const Rgb kPositive{20, 160, 60};
const Rgb kSelf{175, 175, 175};
const Rgb kQueryOnImage{250, 210, 0};  // visible on grey
const Rgb kQueryOnMap{0, 0, 0};        // visible on red, white and blue

double cosine(const float* a, const float* b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// A frame `thickness` pixels wide just inside the box.
void frame(Canvas& c, int x, int y, int w, int h, Rgb colour, int thickness) {
  for (int t = 0; t < thickness; ++t) c.rect(x + t, y + t, w - 2 * t, h - 2 * t, colour);
}

void cross(Canvas& c, int x, int y, int arm, Rgb colour) {
  c.line(x - arm, y, x + arm, y, colour, 2);
  c.line(x, y - arm, x, y + arm, colour, 2);
}

// A horizontal strip of colour(t) for t from 0 to 1, centred at cx, with the values at its ends
// and middle below. Returns the height it took.
template <typename Colour>
int colour_bar(Canvas& c, int cx, int y, int width, int ts, double lo, double hi, Colour colour) {
  const int bar_h = 6 * ts, x0 = cx - width / 2;
  for (int i = 0; i < width; ++i) c.fill_rect(x0 + i, y, 1, bar_h, colour(static_cast<double>(i) / std::max(width - 1, 1)));
  c.rect(x0, y, width, bar_h, kNegative);
  for (int k = 0; k < 3; ++k) {
    const std::string tick = format_tick(lo + (hi - lo) * k / 2, (hi - lo) / 20);
    const int tx = x0 + k * (width - 1) / 2;
    c.text(tx - text_width(tick, ts) / 2, y + bar_h + 2 * ts, tick, kInk, ts);
  }
  return bar_h + 2 * ts + text_height(ts);
}

// White (t = 0) to dark red (t = 1).
Rgb heat_colour(double t) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  auto mix = [t](uint8_t to) { return static_cast<uint8_t>(std::lround(255 + (to - 255) * t)); };
  return {mix(150), mix(10), mix(20)};
}

}  // namespace

Rgb similarity_colour(double cosine) {
  const double t = std::isfinite(cosine) ? std::clamp(cosine, -1.0, 1.0) : 0.0;
  const Rgb end = t < 0 ? Rgb{40, 90, 200} : Rgb{200, 40, 40};
  const double a = std::abs(t);
  auto mix = [a](uint8_t to) { return static_cast<uint8_t>(std::lround(255 + (to - 255) * a)); };
  return {mix(end.r), mix(end.g), mix(end.b)};
}

std::vector<double> cosine_matrix(const std::vector<float>& z, int rows) {
  if (rows <= 0 || z.empty() || z.size() % rows != 0)
    throw std::invalid_argument("cosine_matrix: " + std::to_string(z.size()) + " values are not " +
                                std::to_string(rows) + " rows");
  const int d = static_cast<int>(z.size() / rows);
  std::vector<double> s(static_cast<size_t>(rows) * rows);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < rows; ++j) s[static_cast<size_t>(i) * rows + j] = cosine(&z[size_t(i) * d], &z[size_t(j) * d], d);
  return s;
}

Canvas draw_similarity_matrix(const std::vector<float>& z, const ContrastSpec& spec, const std::string& title,
                              const std::string& caption) {
  const int n = static_cast<int>(spec.rows);
  const std::vector<double> sim = cosine_matrix(z, n);
  enum Mark : uint8_t { None, Negative, Positive };
  std::vector<uint8_t> mark(static_cast<size_t>(n) * n, None);
  for (size_t t = 0; t < spec.terms.size(); ++t)
    for (int j : spec.negatives(t)) {
      uint8_t& m = mark[static_cast<size_t>(spec.terms[t].anchor) * n + j];
      m = std::max<uint8_t>(m, Negative);
    }
  for (const ContrastTerm& t : spec.terms) mark[static_cast<size_t>(t.anchor) * n + t.positive] = Positive;

  // The cosines of a projection head's outputs often all lie in a narrow band; the colours span
  // the band of the off-diagonal entries, so that positives and negatives can be told apart.
  double lo = 1, hi = -1;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) lo = std::min(lo, sim[size_t(i) * n + j]), hi = std::max(hi, sim[size_t(i) * n + j]);
  if (!(hi > lo)) lo = std::min(lo, hi) - 0.5, hi = lo + 1;
  auto colour_of = [&](double s) { return heat_colour((s - lo) / (hi - lo)); };
  const int cell = std::clamp(480 / n, 4, 24), side = cell * n;
  const int ts = 2, m = 8;
  const std::string legend[3] = {"positive", "negative", "itself"};
  const Rgb legend_colour[3] = {kPositive, kNegative, kSelf};
  const int swatch = text_height(ts);
  int legend_w = 0;
  for (const auto& s : legend) legend_w += swatch + 6 + text_width(s, ts) + 24;
  const int W = std::max({side, text_width(title, ts), text_width(caption, 1), legend_w}) + 2 * m;
  const int H = m + text_height(ts) + m + side + m + 40 + m + swatch + m + text_height(1) + m;
  Canvas c(W, H, kPaper);
  c.text((W - text_width(title, ts)) / 2, m, title, kInk, ts);
  const int x0 = (W - side) / 2, y0 = 2 * m + text_height(ts);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const int x = x0 + j * cell, y = y0 + i * cell;
      const size_t k = static_cast<size_t>(i) * n + j;
      c.fill_rect(x, y, cell, cell, i == j ? kSelf : colour_of(sim[k]));
      if (mark[k] == Positive) frame(c, x, y, cell, cell, kPositive, std::max(1, cell / 6));
      if (mark[k] == Negative) frame(c, x, y, cell, cell, kNegative, 1);
    }
  int y = y0 + side + m;
  y += colour_bar(c, W / 2, y, std::min(side, 240), ts, lo, hi, heat_colour) + m;
  int x = (W - legend_w + 24) / 2;
  for (int k = 0; k < 3; ++k) {
    c.fill_rect(x, y, swatch, swatch, k == 2 ? kSelf : kPaper);
    if (k < 2) frame(c, x, y, swatch, swatch, legend_colour[k], k == 0 ? 3 : 1);
    c.text(x + swatch + 6, y + (swatch - text_height(ts)) / 2, legend[k], kInk, ts);
    x += swatch + 6 + text_width(legend[k], ts) + 24;
  }
  c.text((W - text_width(caption, 1)) / 2, y + swatch + m, caption, kInk, 1);
  return c;
}

void write_similarity_matrix_png(const std::string& path, const std::vector<float>& z, const ContrastSpec& spec,
                                 const std::string& title, const std::string& caption) {
  draw_similarity_matrix(z, spec, title, caption).write_png(path);
}

Canvas draw_similarity_maps(const std::vector<float>& image, int h, int w, const std::vector<float>& features,
                            int fh, int fw, int channels, const std::vector<QueryPixel>& queries,
                            const std::string& title, int scale) {
  if (h <= 0 || w <= 0 || image.size() != static_cast<size_t>(h) * w)
    throw std::invalid_argument("similarity maps: the image must hold h*w values");
  if (fh <= 0 || fw <= 0 || channels <= 0 || h % fh != 0 || w % fw != 0 || h / fh != w / fw ||
      features.size() != static_cast<size_t>(fh) * fw * channels)
    throw std::invalid_argument("similarity maps: features must be [fh][fw][channels] with h = k*fh, w = k*fw");
  const int k = h / fh;
  scale = std::max(scale, 1);
  const int ph = h * scale, pw = w * scale, ts = 2, m = 8;
  const std::string captions[2] = {"query", "cosine similarity"};
  const int row_h = text_height(ts) + 4 + ph;
  // Two columns, image and map, each as wide as its panel or its widest heading (small images
  // have headings wider than themselves).
  int col = std::max(pw, text_width(captions[1], ts));
  for (const QueryPixel& q : queries) col = std::max(col, text_width(captions[0] + ": " + q.name, ts));
  const int W = std::max(2 * col + 3 * m, text_width(title, ts) + 2 * m);
  const int H = m + text_height(ts) + m + static_cast<int>(queries.size()) * (row_h + m) + 40 + m;
  Canvas c(W, H, kPaper);
  c.text((W - text_width(title, ts)) / 2, m, title, kInk, ts);
  const auto window = display_window(image);
  const int x_col = (W - 2 * col - m) / 2;
  const int x_img = x_col + (col - pw) / 2, x_map = x_img + col + m;
  int y = 2 * m + text_height(ts);
  for (const QueryPixel& q : queries) {
    if (q.y < 0 || q.y >= h || q.x < 0 || q.x >= w)
      throw std::invalid_argument("similarity maps: query (" + std::to_string(q.y) + ", " + std::to_string(q.x) +
                                  ") outside the image");
    const std::string head[2] = {captions[0] + ": " + q.name, captions[1]};
    c.text(x_img + (pw - text_width(head[0], ts)) / 2, y, head[0], kInk, ts);
    c.text(x_map + (pw - text_width(head[1], ts)) / 2, y, head[1], kInk, ts);
    const int py = y + text_height(ts) + 4;
    const float* fq = &features[(static_cast<size_t>(q.y / k) * fw + q.x / k) * channels];
    std::vector<double> sim(static_cast<size_t>(fh) * fw);
    for (int cell = 0; cell < fh * fw; ++cell) sim[cell] = cosine(fq, &features[size_t(cell) * channels], channels);
    for (int yy = 0; yy < ph; ++yy)
      for (int xx = 0; xx < pw; ++xx) {
        const int iy = yy / scale, ix = xx / scale;
        c.set(x_img + xx, py + yy, grey_level(image[static_cast<size_t>(iy) * w + ix], window));
        c.set(x_map + xx, py + yy, similarity_colour(sim[static_cast<size_t>(iy / k) * fw + ix / k]));
      }
    const int qx = q.x * scale + scale / 2, qy = py + q.y * scale + scale / 2, arm = 3 * scale;
    cross(c, x_img + qx, qy, arm, kQueryOnImage);
    cross(c, x_map + qx, qy, arm, kQueryOnMap);
    y += row_h + m;
  }
  colour_bar(c, W / 2, y, std::min(2 * pw, 240), ts, -1.0, 1.0, [](double t) { return similarity_colour(2 * t - 1); });
  return c;
}

void write_similarity_maps_png(const std::string& path, const std::vector<float>& image, int h, int w,
                               const std::vector<float>& features, int fh, int fw, int channels,
                               const std::vector<QueryPixel>& queries, const std::string& title, int scale) {
  draw_similarity_maps(image, h, w, features, fh, fw, channels, queries, title, scale).write_png(path);
}

}  // namespace cs
