#include "experiments/evaluation/pictures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace cs {
namespace {

const Rgb kTickInk{70, 70, 70};   // tick values
const Rgb kAxis{90, 90, 90};      // left and bottom axes, tick marks, swatch outlines
const Rgb kFrame{200, 200, 200};  // top and right edges of the plot box
const Rgb kGrid{236, 236, 236};
const Rgb kMuted{150, 150, 150};  // "no data"

// Class colours: class 0 (background) is never drawn; classes past the table share the last.
const Rgb kClassColours[] = {{0, 0, 0},      {230, 60, 60},  {60, 200, 80},  {70, 120, 240}, {240, 200, 40},
                             {200, 80, 220}, {40, 210, 210}, {250, 140, 40}, {150, 150, 150}};
constexpr int kLastClassColour = static_cast<int>(std::size(kClassColours)) - 1;
constexpr float kOverlayAlpha = 0.45f;

// Series colours: apart from each other and from the greys of axes and grid.
const Rgb kSeriesColours[] = {{25, 95, 200},  {225, 105, 15}, {35, 150, 65}, {195, 35, 55},
                              {125, 70, 185}, {0, 150, 160},  {150, 95, 40}};

// ---- legend: rows of (swatch, name) items, shared by the curve plot and the overlay.

struct LegendItem {
  std::string name;
  Rgb colour;
};

enum class Swatch { Line, Box };

struct Legend {
  std::vector<LegendItem> items;
  int scale = 1;
  Swatch swatch = Swatch::Line;

  int swatch_width() const { return swatch == Swatch::Line ? 18 * scale : kGlyphCapHeight * scale; }
  int item_width(const LegendItem& it) const { return swatch_width() + 5 * scale + text_width(it.name, scale); }
  int item_gap() const { return 16 * scale; }
  int row_height() const { return text_height(scale) + 4 * scale; }
  int widest_item() const {
    int w = 0;
    for (const auto& it : items) w = std::max(w, item_width(it));
    return w;
  }

  // Items in order, broken into rows no wider than max_width (a wider item sits alone).
  std::vector<std::vector<size_t>> rows(int max_width) const {
    std::vector<std::vector<size_t>> out;
    int used = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const int w = item_width(items[i]);
      if (!out.empty() && used + item_gap() + w <= max_width) {
        out.back().push_back(i);
        used += item_gap() + w;
      } else {
        out.push_back({i});
        used = w;
      }
    }
    return out;
  }
  // Rows times row height, less the gap after the last row.
  int height(int max_width) const {
    const int n = static_cast<int>(rows(max_width).size());
    return n == 0 ? 0 : n * row_height() - (row_height() - text_height(scale));
  }

  // Each row centred between x0 and x1, the first row's text top at y.
  void draw(Canvas& c, int x0, int x1, int y) const {
    for (const auto& row : rows(x1 - x0)) {
      int total = item_gap() * (static_cast<int>(row.size()) - 1);
      for (size_t i : row) total += item_width(items[i]);
      int x = x0 + (x1 - x0 - total) / 2;
      for (size_t i : row) {
        draw_swatch(c, x, y, items[i].colour);
        c.text(x + swatch_width() + 5 * scale, y, items[i].name, kInk, scale);
        x += item_width(items[i]) + item_gap();
      }
      y += row_height();
    }
  }

  void draw_swatch(Canvas& c, int x, int y, Rgb colour) const {
    const int cap = kGlyphCapHeight * scale;
    if (swatch == Swatch::Line) {
      c.fill_rect(x, y + cap / 2 - scale, swatch_width(), 3 * scale, colour);
    } else {
      c.fill_rect(x, y, cap, cap, colour);
      c.rect(x, y, cap, cap, kAxis);
    }
  }
};

// ---- overlay

std::string class_name(const OverlayClasses& classes, int k) {
  if (k < static_cast<int>(classes.names.size()) && !classes.names[k].empty()) return classes.names[k];
  return "class " + std::to_string(k);
}

int overlay_class_count(const OverlayClasses& classes, const std::vector<uint8_t>& gt,
                        const std::vector<uint8_t>& pred) {
  if (classes.count > 0) return classes.count;
  int largest = 0;
  for (uint8_t v : gt) largest = std::max<int>(largest, v);
  for (uint8_t v : pred) largest = std::max<int>(largest, v);
  return largest + 1;
}


// ---- curve plot

struct Range {
  double lo = 0, hi = 1;
};

size_t point_count(const Series& s) { return std::min(s.x.size(), s.y.size()); }
bool finite_point(const Series& s, size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); }

// The extent of all finite points; false when there are none.
bool data_extent(const std::vector<Series>& series, Range& xr, Range& yr) {
  bool any = false;
  for (const auto& s : series)
    for (size_t i = 0; i < point_count(s); ++i) {
      if (!finite_point(s, i)) continue;
      if (!any) {
        xr = {s.x[i], s.x[i]};
        yr = {s.y[i], s.y[i]};
        any = true;
      }
      xr = {std::min(xr.lo, s.x[i]), std::max(xr.hi, s.x[i])};
      yr = {std::min(yr.lo, s.y[i]), std::max(yr.hi, s.y[i])};
    }
  return any;
}

struct Axis {
  std::vector<double> ticks;  // ascending; the first and last are the ends of the axis

  double lo() const { return ticks.front(); }
  double hi() const { return ticks.back(); }
  double step() const { return ticks[1] - ticks[0]; }
  std::string label(size_t i) const { return format_tick(ticks[i], step()); }
  int widest_label(int scale) const {
    int w = 0;
    for (size_t i = 0; i < ticks.size(); ++i) w = std::max(w, text_width(label(i), scale));
    return w;
  }
  // The pixel of value v on an axis drawn from pixel p_lo (at lo) to p_hi (at hi).
  int to_pixel(double v, int p_lo, int p_hi) const {
    return p_lo + static_cast<int>(std::lround((v - lo()) / (hi() - lo()) * (p_hi - p_lo)));
  }
};

// As many x ticks as fit with room between their labels.
Axis fit_x_axis(Range r, int length, int scale) {
  for (int n = std::clamp(length / (60 * scale), 3, 11); n > 3; --n) {
    Axis a{nice_ticks(r.lo, r.hi, n)};
    const int spacing = length / static_cast<int>(a.ticks.size() - 1);
    if (spacing >= a.widest_label(scale) + 12 * scale) return a;
  }
  return Axis{nice_ticks(r.lo, r.hi, 3)};
}

// Y ticks at least about three text heights apart.
Axis fit_y_axis(Range r, int length, int scale) {
  return Axis{nice_ticks(r.lo, r.hi, std::clamp(length / (3 * text_height(scale)), 3, 8))};
}

// Where the parts of the plot go. The tick range maps to [left, right] x [top, bottom], which
// sits `inset` pixels inside the box, so curves at the ends of the range stay off the axes.
struct PlotLayout {
  int ui = 1;  // text scale of everything but the title
  int pad = 10, tick = 4, inset = 6;
  int box_left = 0, box_top = 0, box_right = 0, box_bottom = 0;
  int left() const { return box_left + inset; }
  int right() const { return box_right - inset; }
  int top() const { return box_top + inset; }
  int bottom() const { return box_bottom - inset; }
};

void draw_grid_and_box(Canvas& c, const PlotLayout& L, const Axis& xa, const Axis& ya) {
  for (double t : xa.ticks) {
    const int x = xa.to_pixel(t, L.left(), L.right());
    c.line(x, L.box_top + 1, x, L.box_bottom - 1, kGrid);
  }
  for (double t : ya.ticks) {
    const int y = ya.to_pixel(t, L.bottom(), L.top());
    c.line(L.box_left + 1, y, L.box_right - 1, y, kGrid);
  }
  c.line(L.box_left, L.box_top, L.box_right, L.box_top, kFrame);
  c.line(L.box_right, L.box_top, L.box_right, L.box_bottom, kFrame);
}

void draw_axes(Canvas& c, const PlotLayout& L, const Axis& xa, const Axis& ya) {
  c.line(L.box_left, L.box_bottom, L.box_right, L.box_bottom, kAxis);
  c.line(L.box_left, L.box_top, L.box_left, L.box_bottom, kAxis);
  const int cap = kGlyphCapHeight * L.ui;
  for (size_t i = 0; i < xa.ticks.size(); ++i) {
    const int x = xa.to_pixel(xa.ticks[i], L.left(), L.right());
    c.line(x, L.box_bottom + 1, x, L.box_bottom + L.tick, kAxis);
    const std::string s = xa.label(i);
    c.text(x - text_width(s, L.ui) / 2, L.box_bottom + L.tick + 3 * L.ui, s, kTickInk, L.ui);
  }
  for (size_t i = 0; i < ya.ticks.size(); ++i) {
    const int y = ya.to_pixel(ya.ticks[i], L.bottom(), L.top());
    c.line(L.box_left - L.tick, y, L.box_left - 1, y, kAxis);
    const std::string s = ya.label(i);
    c.text(L.box_left - L.tick - 3 * L.ui - text_width(s, L.ui), y - cap / 2, s, kTickInk, L.ui);
  }
}

void draw_series(Canvas& c, const PlotLayout& L, const Axis& xa, const Axis& ya, const Series& s, Rgb colour) {
  const size_t n = point_count(s);
  size_t finite = 0;
  for (size_t i = 0; i < n; ++i) finite += finite_point(s, i);
  const bool mark_every_point = finite <= 40;  // sparse curves (e.g. validation) show their points
  const int marker = 5 * L.ui;
  int px = 0, py = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!finite_point(s, i)) continue;
    const int x = xa.to_pixel(s.x[i], L.left(), L.right()), y = ya.to_pixel(s.y[i], L.bottom(), L.top());
    const bool joins_previous = i > 0 && finite_point(s, i - 1);
    const bool joins_next = i + 1 < n && finite_point(s, i + 1);
    if (joins_previous) c.line(px, py, x, y, colour, 2 * L.ui);
    if (mark_every_point || (!joins_previous && !joins_next))
      c.fill_rect(x - marker / 2, y - marker / 2, marker, marker, colour);
    px = x;
    py = y;
  }
}

void draw_axis_labels(Canvas& c, const PlotLayout& L, const PlotLabels& labels) {
  if (!labels.x_label.empty()) {
    const int y = L.box_bottom + L.tick + 3 * L.ui + text_height(L.ui) + 6 * L.ui;
    c.text((L.box_left + L.box_right - text_width(labels.x_label, L.ui)) / 2, y, labels.x_label, kInk, L.ui);
  }
  if (!labels.y_label.empty())
    c.text_up(L.pad, (L.box_top + L.box_bottom + text_width(labels.y_label, L.ui)) / 2, labels.y_label, kInk,
              L.ui);
}

Legend series_legend(const std::vector<Series>& series, int scale) {
  Legend legend{{}, scale, Swatch::Line};
  if (series.size() < 2) return legend;
  for (size_t k = 0; k < series.size(); ++k)
    legend.items.push_back(
        {series[k].name.empty() ? "series " + std::to_string(k + 1) : series[k].name, series_colour(k)});
  return legend;
}

// A range with room in it: a single value is widened around itself.
Range widened(Range r) {
  if (r.hi > r.lo) return r;
  const double d = r.lo == 0 ? 1 : std::abs(r.lo) * 0.1;
  return {r.lo - d, r.hi + d};
}

std::string strip_trailing_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return strip_trailing_zeros(buf);
}

int decimal_exponent(double v) { return static_cast<int>(std::floor(std::log10(std::abs(v)) + 1e-9)); }

}  // namespace

std::pair<float, float> display_window(const std::vector<float>& image) {
  std::vector<float> v;
  v.reserve(image.size());
  for (float x : image)
    if (std::isfinite(x)) v.push_back(x);
  if (v.empty()) return {0.f, 1.f};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 100], v[v.size() * 99 / 100]};
}

Rgb grey_level(float value, std::pair<float, float> window) {
  const auto [lo, hi] = window;
  const float g = std::isfinite(value) ? std::clamp((value - lo) / std::max(hi - lo, 1e-6f), 0.f, 1.f) : 0.f;
  const auto v = static_cast<uint8_t>(std::lround(255 * g));
  return {v, v, v};
}

Rgb class_colour(int k) { return kClassColours[std::clamp(k, 0, kLastClassColour)]; }
Rgb series_colour(size_t k) { return kSeriesColours[k % std::size(kSeriesColours)]; }

Canvas draw_overlay(const std::vector<float>& image, const std::vector<uint8_t>& gt, const std::vector<uint8_t>& pred,
                    int h, int w, const OverlayClasses& classes, int scale) {
  const size_t n = static_cast<size_t>(std::max(h, 0)) * std::max(w, 0);
  if (n == 0 || image.size() != n || gt.size() != n || pred.size() != n)
    throw std::invalid_argument("overlay: image and labels must hold h*w = " + std::to_string(n) + " values");
  scale = std::max(scale, 1);
  const int pw = w * scale, ph = h * scale;
  const int ts = pw >= 240 ? 2 : 1;  // text scale: larger captions on larger panels
  const int m = 4 * ts;              // margins and gaps
  const std::string captions[3] = {"image", "ground truth", "prediction"};
  int col_w = pw;  // a column is as wide as its panel or its caption
  for (const auto& s : captions) col_w = std::max(col_w, text_width(s, ts));

  Legend legend{{}, ts, Swatch::Box};
  for (int k = 1; k < overlay_class_count(classes, gt, pred); ++k)
    legend.items.push_back({class_name(classes, k), class_colour(k)});
  const int content_w = 3 * col_w + 2 * m;
  const int W = std::max(content_w, legend.widest_item()) + 2 * m;
  const int caption_h = text_height(ts) + m;
  const int legend_h = legend.items.empty() ? 0 : m + legend.height(W - 2 * m);
  Canvas c(W, m + caption_h + ph + legend_h + m, kPaper);

  const auto window = display_window(image);
  const int x_start = (W - content_w) / 2, panel_y = m + caption_h;
  for (int panel = 0; panel < 3; ++panel) {
    const int col_x = x_start + panel * (col_w + m);
    c.text(col_x + (col_w - text_width(captions[panel], ts)) / 2, m, captions[panel], kInk, ts);
    const int panel_x = col_x + (col_w - pw) / 2;
    for (int y = 0; y < ph; ++y)
      for (int x = 0; x < pw; ++x) {
        const size_t i = static_cast<size_t>(y / scale) * w + x / scale;
        c.set(panel_x + x, panel_y + y, grey_level(image[i], window));
        const uint8_t lab = panel == 1 ? gt[i] : panel == 2 ? pred[i] : 0;
        if (lab > 0) c.blend(panel_x + x, panel_y + y, class_colour(lab), kOverlayAlpha);
      }
  }
  legend.draw(c, m, W - m, panel_y + ph + m);
  return c;
}

void write_overlay_png(const std::string& path, const std::vector<float>& image, const std::vector<uint8_t>& gt,
                       const std::vector<uint8_t>& pred, int h, int w, const OverlayClasses& classes, int scale) {
  draw_overlay(image, gt, pred, h, w, classes, scale).write_png(path);
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  // Three ticks always suffice once the step is at least the range, which ends the search.
  max_ticks = std::max(max_ticks, 3);
  if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo)) return {0, 1};
  const Range r = widened({lo, hi});
  const double raw = (r.hi - r.lo) / (max_ticks - 1);  // the finest step that could fit
  const int multiples[] = {1, 2, 5};
  for (int e = decimal_exponent(raw);; ++e) {
    // step = m x 10^e, kept as m and 10^|e| so that ticks k*m/10^|e| are the closest doubles.
    const double power = std::pow(10.0, std::abs(e));
    for (int mult : multiples) {
      const double step = e >= 0 ? mult * power : mult / power;
      if (step < raw * (1 - 1e-9)) continue;
      const double first = std::floor(r.lo / step + 1e-9), last = std::ceil(r.hi / step - 1e-9);
      if (last - first + 1 > max_ticks) continue;
      std::vector<double> ticks;
      for (double k = first; k <= last + 0.5; ++k) ticks.push_back(e >= 0 ? k * mult * power : k * mult / power);
      if (ticks.size() < 2) ticks.push_back(e >= 0 ? (last + 1) * mult * power : (last + 1) * mult / power);
      return ticks;
    }
  }
}

std::string format_tick(double value, double step) {
  step = std::abs(step);
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
  if (!(step > 0) || !std::isfinite(step)) step = std::abs(value) > 0 ? std::abs(value) : 1;
  if (std::abs(value) < step * 1e-6) return "0";
  const int step_exp = decimal_exponent(step);
  if (step_exp >= -3 && std::abs(value) < 1e6) return fixed(value, std::max(0, -step_exp));
  // Mantissa and exponent, with the mantissa digits the step resolves.
  int e = decimal_exponent(value);
  const int digits = std::max(0, e - step_exp);
  double mantissa = value / std::pow(10.0, e);
  if (std::abs(std::round(mantissa * std::pow(10.0, digits))) >= 10 * std::pow(10.0, digits)) {
    mantissa /= 10;  // 9.99... rounding up to 10
    ++e;
  }
  return fixed(mantissa, digits) + "e" + std::to_string(e);
}

Canvas draw_curve_plot(const std::vector<Series>& series, const PlotLabels& labels, int width, int height) {
  Canvas c(width, height, kPaper);
  PlotLayout L;
  L.ui = std::max(1, std::min(width / 640, height / 360));
  L.pad *= L.ui;
  L.tick *= L.ui;
  L.inset *= L.ui;
  const int title_scale = 2 * L.ui;

  int y = L.pad;
  if (!labels.title.empty()) {
    c.text((width - text_width(labels.title, title_scale)) / 2, y, labels.title, kInk, title_scale);
    y += text_height(title_scale) + 6 * L.ui;
  }
  const Legend legend = series_legend(series, L.ui);
  if (!legend.items.empty()) {
    legend.draw(c, L.pad, width - L.pad, y);
    y += legend.height(width - 2 * L.pad) + 4 * L.ui;
  }
  L.box_top = y + 4 * L.ui;
  const int x_label_h = labels.x_label.empty() ? 0 : text_height(L.ui) + 6 * L.ui;
  L.box_bottom = std::max(L.box_top + 2 * L.inset + 1,
                          height - 1 - L.pad - x_label_h - text_height(L.ui) - 3 * L.ui - L.tick);

  Range xr, yr;
  const bool has_data = data_extent(series, xr, yr);
  const Axis ya = fit_y_axis(yr, L.bottom() - L.top(), L.ui);
  const int y_label_w = labels.y_label.empty() ? 0 : text_height(L.ui) + 8 * L.ui;
  L.box_left = L.pad + y_label_w + ya.widest_label(L.ui) + 3 * L.ui + L.tick;
  // Room on the right for half of the last x tick label, which is centred on the box edge.
  L.box_right = std::max(L.box_left + 2 * L.inset + 1, width - 1 - 2 * L.pad);
  const Axis xa = fit_x_axis(xr, L.right() - L.left(), L.ui);

  draw_grid_and_box(c, L, xa, ya);
  for (size_t k = 0; k < series.size(); ++k) draw_series(c, L, xa, ya, series[k], series_colour(k));
  draw_axes(c, L, xa, ya);
  draw_axis_labels(c, L, labels);
  if (!has_data) {
    const std::string note = "no data";
    c.text((L.box_left + L.box_right - text_width(note, L.ui)) / 2, (L.box_top + L.box_bottom) / 2 - 3 * L.ui, note,
           kMuted, L.ui);
  }
  return c;
}

void write_curve_png(const std::string& path, const std::vector<Series>& series, const PlotLabels& labels, int width,
                     int height) {
  draw_curve_plot(series, labels, width, height).write_png(path);
}

namespace {
Series read_curve(const std::string& log_path, const std::string& first, const std::string& value_key) {
  Series s;
  s.name = value_key;
  std::ifstream f(log_path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string w0, w1, at, key;
    double v = 0;
    if (first == "step") {
      if (!(in >> w0 >> at >> key >> v) || w0 != "step" || key != value_key) continue;
    } else {
      if (!(in >> w0 >> w1 >> at >> key >> v) || w0 != first || w1 != "step" || key != value_key) continue;
    }
    // The step: "120", or "120/600" (step 120 of 600) in the training lines.
    char* end = nullptr;
    const double step = std::strtod(at.c_str(), &end);
    if (end == at.c_str() || (*end != '\0' && *end != '/')) continue;
    s.x.push_back(step);
    s.y.push_back(v);
  }
  return s;
}
}  // namespace

Series read_loss_curve(const std::string& log_path) { return read_curve(log_path, "step", "loss"); }
Series read_validation_curve(const std::string& log_path) {
  return read_curve(log_path, "validate", "foreground_dice");
}

}  // namespace cs
