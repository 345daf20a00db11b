// The curve and overlay pictures (experiments/pictures.h), checked from their pixels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "experiments/evaluation/pictures.h"
#include "io/drawing/canvas.h"
#include "support/canvas_test_util.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using namespace testing_canvas;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Text, axes and tick marks are drawn dark; series, class colours, grid and paper are not.
bool is_dark(Rgb c, int below = 110) { return c.r < below && c.g < below && c.b < below; }
bool is_grey(Rgb c) { return c.r == c.g && c.g == c.b; }

// Top-left corners where the text s (drawn with Canvas::text, or text_up when `up`) appears in c
// as dark pixels (every channel below `dark_below`), with nothing else dark inside its box: text
// found here overlaps nothing.
struct Pos {
  int x, y;
};
std::vector<Pos> find_text(const Canvas& c, const std::string& s, int scale, bool up = false,
                           int dark_below = 110) {
  const int tw = text_width(s, scale), th = text_height(scale);
  Canvas t(up ? th : tw, up ? tw : th, kWhite);
  if (up)
    t.text_up(0, tw, s, kBlack, scale);
  else
    t.text(0, 0, s, kBlack, scale);
  std::vector<Pos> ink, clear;
  for (int y = 0; y < t.height(); ++y)
    for (int x = 0; x < t.width(); ++x) (t.at(x, y) == kBlack ? ink : clear).push_back({x, y});
  std::vector<Pos> found;
  for (int y0 = 0; y0 + t.height() <= c.height(); ++y0)
    for (int x0 = 0; x0 + t.width() <= c.width(); ++x0) {
      const auto dark_at = [&](const Pos& p) { return is_dark(c.at(x0 + p.x, y0 + p.y), dark_below); };
      if (std::all_of(ink.begin(), ink.end(), dark_at) && std::none_of(clear.begin(), clear.end(), dark_at))
        found.push_back({x0, y0});
    }
  return found;
}

// ---- ticks

bool is_nice_step(double step) {
  const double e = std::floor(std::log10(step) + 1e-9), m = step / std::pow(10.0, e);
  return std::abs(m - 1) < 1e-6 || std::abs(m - 2) < 1e-6 || std::abs(m - 5) < 1e-6;
}

// The nice step just below `step` (1 -> 0.5, 2 -> 1, 5 -> 2, times a power of ten).
double finer_nice_step(double step) {
  const double e = std::floor(std::log10(step) + 1e-9), m = std::round(step / std::pow(10.0, e));
  return m == 1 ? 0.5 * std::pow(10.0, e) : m == 2 ? std::pow(10.0, e) : 2 * std::pow(10.0, e);
}

int ticks_needed(double lo, double hi, double step) {
  return static_cast<int>(std::ceil(hi / step - 1e-9) - std::floor(lo / step + 1e-9)) + 1;
}

void expect_nice_cover(double lo, double hi, int max_ticks) {
  SCOPED_TRACE("[" + std::to_string(lo) + ", " + std::to_string(hi) + "] max " + std::to_string(max_ticks));
  const std::vector<double> t = nice_ticks(lo, hi, max_ticks);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LE(static_cast<int>(t.size()), std::max(max_ticks, 3));
  const double step = t[1] - t[0];
  EXPECT_TRUE(is_nice_step(step)) << step;
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_NEAR(t[i], t[0] + i * step, 1e-9 * step * (i + 1));
    EXPECT_NEAR(t[i] / step, std::round(t[i] / step), 1e-6) << "tick " << t[i] << " is off the step grid";
  }
  EXPECT_LE(t.front(), lo + 1e-9 * step);
  EXPECT_GE(t.back(), hi - 1e-9 * step);
  EXPECT_GT(t.front(), lo - step);  // no spare tick at either end
  EXPECT_LT(t.back(), hi + step);
  // The step is the finest nice one that fits.
  EXPECT_GT(ticks_needed(lo, hi, finer_nice_step(step)), std::max(max_ticks, 3));
  // Labels tell the ticks apart.
  std::set<std::string> labels;
  for (double v : t) labels.insert(format_tick(v, step));
  EXPECT_EQ(labels.size(), t.size());
}

TEST(PlotTicks, AreNiceAndCoverTheRange) {
  for (int max_ticks : {3, 5, 6, 8, 11}) {
    expect_nice_cover(0, 1, max_ticks);
    expect_nice_cover(0.013, 0.87, max_ticks);
    expect_nice_cover(3, 10001, max_ticks);
    expect_nice_cover(-7.5, 2.25, max_ticks);
    expect_nice_cover(2e-5, 3.1e-4, max_ticks);
    expect_nice_cover(100, 100.5, max_ticks);
    expect_nice_cover(-0.1, 0.1, max_ticks);
  }
  const auto unit = nice_ticks(0, 1, 6);
  EXPECT_EQ(unit.size(), 6u);  // 0, 0.2, ..., 1
  EXPECT_NEAR(unit[1], 0.2, 1e-12);
}

TEST(PlotTicks, DegenerateRangesStillGiveAnAxis) {
  for (double v : {0.0, 7.0, -3.5, 1e-9}) {
    const auto t = nice_ticks(v, v, 6);
    ASSERT_GE(t.size(), 2u);
    EXPECT_LE(t.front(), v);
    EXPECT_GE(t.back(), v);
    EXPECT_LT(t.front(), t.back());
  }
  const auto t = nice_ticks(kNaN, 1, 6);
  ASSERT_GE(t.size(), 2u);
  EXPECT_TRUE(std::isfinite(t.front()) && std::isfinite(t.back()));
}

TEST(PlotTicks, LabelsAreCompact) {
  struct Tick {
    double value, step;
    const char* label;
  };
  // -1e-17 is rounding noise: its label is "0", not "-0" or "-1e-17"
  const Tick ticks[] = {
      {0, 50, "0"}, {50, 50, "50"}, {100, 50, "100"}, {10000, 2000, "10000"}, {0.2, 0.2, "0.2"}, {0.4, 0.2, "0.4"},
      {0.6000000000000001, 0.2, "0.6"}, {1.0, 0.2, "1"}, {0.25, 0.05, "0.25"}, {-1.5, 0.5, "-1.5"},
      {-1e-17, 0.1, "0"}, {0.001, 0.001, "0.001"}, {0.001, 5e-4, "1e-3"}, {0.0015, 5e-4, "1.5e-3"},
      {2e-4, 2e-4, "2e-4"}, {2e6, 1e6, "2e6"}, {1.5e6, 5e5, "1.5e6"}};
  for (const Tick& t : ticks) EXPECT_EQ(format_tick(t.value, t.step), t.label) << t.value << " step " << t.step;
}

// ---- curve plot

// The axes of a drawn plot, found from its pixels: the bottom axis is the row with the longest
// run of dark pixels, the left axis the column; tick marks are the dark pixels just outside.
struct FoundAxes {
  int axis_row = -1, axis_col = -1;
  std::vector<int> x_ticks, y_ticks;  // columns left to right, rows top to bottom
};

int longest_dark_run(const Canvas& c, bool row, int index) {
  int best = 0, run = 0;
  for (int i = 0; i < (row ? c.width() : c.height()); ++i) {
    run = is_dark(row ? c.at(i, index) : c.at(index, i)) ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

FoundAxes find_axes(const Canvas& c) {
  FoundAxes a;
  int best = 0;
  for (int y = 0; y < c.height(); ++y)
    if (int r = longest_dark_run(c, true, y); r > best) best = r, a.axis_row = y;
  best = 0;
  for (int x = 0; x < c.width(); ++x)
    if (int r = longest_dark_run(c, false, x); r > best) best = r, a.axis_col = x;
  for (int x = a.axis_col; x < c.width(); ++x)
    if (is_dark(c.at(x, a.axis_row + 2))) a.x_ticks.push_back(x);
  for (int y = 0; y <= a.axis_row; ++y)
    if (is_dark(c.at(a.axis_col - 2, y))) a.y_ticks.push_back(y);
  return a;
}

std::vector<int> rows_with(const Canvas& c, int x, Rgb colour) {
  std::vector<int> rows;
  for (int y = 0; y < c.height(); ++y)
    if (c.at(x, y) == colour) rows.push_back(y);
  return rows;
}

Series line_series(const std::string& name, double x0, double x1, int n, double slope, double offset) {
  Series s{name, {}, {}};
  for (int i = 0; i < n; ++i) {
    const double x = x0 + (x1 - x0) * i / (n - 1);
    s.x.push_back(x);
    s.y.push_back(offset + slope * x);
  }
  return s;
}

TEST(CurvePlot, SeriesSitsWhereTheTicksSayAndLabelsSitAtTheirTicks) {
  // y = x on [0, 10]: every 1-2-5 step puts the first tick at 0 and the last at 10 on both axes.
  const Canvas c = draw_curve_plot({line_series("y=x", 0, 10, 201, 1, 0)}, {"Known line", "step", "loss"});
  ASSERT_EQ(c.width(), 640);
  ASSERT_EQ(c.height(), 360);
  const FoundAxes a = find_axes(c);
  ASSERT_GE(a.x_ticks.size(), 3u);
  ASSERT_GE(a.y_ticks.size(), 3u);
  const int nx = static_cast<int>(a.x_ticks.size()), ny = static_cast<int>(a.y_ticks.size());
  const double x_step = 10.0 / (nx - 1), y_step = 10.0 / (ny - 1);
  const int bottom = a.y_ticks.back(), top = a.y_ticks.front();
  const int left = a.x_ticks.front(), right = a.x_ticks.back();
  for (int i = 0; i < nx; ++i) EXPECT_NEAR(a.x_ticks[i], left + (right - left) * i / (nx - 1.0), 1.0);
  for (int j = 0; j < ny; ++j) EXPECT_NEAR(a.y_ticks[j], top + (bottom - top) * j / (ny - 1.0), 1.0);

  const Rgb colour = series_colour(0);
  for (int i = 0; i < nx; ++i) {
    const double value = i * x_step;
    const double expected_row = bottom - (bottom - top) * value / 10.0;
    const auto rows = rows_with(c, a.x_ticks[i], colour);
    ASSERT_FALSE(rows.empty()) << "no series at x tick " << i;
    EXPECT_NEAR(rows.front(), expected_row, 3.0) << "x tick " << i;
    EXPECT_NEAR(rows.back(), expected_row, 3.0) << "x tick " << i;
  }
  // Tick values under and beside their marks, clear of everything else dark.
  for (int i = 0; i < nx; ++i) {
    const std::string s = format_tick(i * x_step, x_step);
    const auto at = find_text(c, s, 1);
    EXPECT_TRUE(std::any_of(at.begin(), at.end(), [&](Pos p) {
      return std::abs(p.x + text_width(s) / 2 - a.x_ticks[i]) <= 1 && p.y > a.axis_row && p.y < a.axis_row + 15;
    })) << "x label " << s;
  }
  for (int j = 0; j < ny; ++j) {
    const std::string s = format_tick(10 - j * y_step, y_step);
    const auto at = find_text(c, s, 1);
    EXPECT_TRUE(std::any_of(at.begin(), at.end(), [&](Pos p) {
      const int right_end = p.x + text_width(s);
      return right_end < a.axis_col && right_end > a.axis_col - 15 &&
             std::abs(p.y + kGlyphCapHeight / 2 - a.y_ticks[j]) <= 1;
    })) << "y label " << s;
  }
  // Title above the plot (double size), axis labels below and beside it, each overlapping nothing.
  const auto title = find_text(c, "Known line", 2);
  ASSERT_EQ(title.size(), 1u);
  EXPECT_LT(title[0].y + text_height(2), top);
  const auto x_label = find_text(c, "step", 1);
  ASSERT_EQ(x_label.size(), 1u);
  EXPECT_GT(x_label[0].y, a.axis_row + 10);
  const auto y_label = find_text(c, "loss", 1, true);
  ASSERT_EQ(y_label.size(), 1u);
  EXPECT_LT(y_label[0].x + text_height(1), a.axis_col - 10);
}

TEST(CurvePlot, LegendOnlyWithSeveralSeries) {
  const std::vector<Series> three = {line_series("random", 0, 100, 50, -0.01, 1.5),
                                     line_series("global", 0, 100, 50, -0.012, 1.4),
                                     line_series("global+local", 0, 100, 50, -0.013, 1.3)};
  const Canvas many = draw_curve_plot(three, {"Three initialisations", "step", "loss"});
  const FoundAxes a = find_axes(many);
  ASSERT_FALSE(a.y_ticks.empty());
  for (size_t k = 0; k < three.size(); ++k) {
    EXPECT_GT(count_colour(many, series_colour(k), 0, a.y_ticks.front() - 8), 0) << "no legend swatch " << k;
    EXPECT_GT(count_colour(many, series_colour(k), a.y_ticks.front(), a.axis_row), 0) << "no curve " << k;
    EXPECT_FALSE(find_text(many, three[k].name, 1).empty()) << three[k].name;
  }
  EXPECT_NE(series_colour(0), series_colour(1));
  EXPECT_NE(series_colour(1), series_colour(2));

  const Canvas one = draw_curve_plot({three[0]}, {"One", "step", "loss"});
  const FoundAxes b = find_axes(one);
  ASSERT_FALSE(b.y_ticks.empty());
  EXPECT_EQ(count_colour(one, series_colour(0), 0, b.y_ticks.front() - 8), 0);
  EXPECT_TRUE(find_text(one, "random", 1).empty());
}

TEST(CurvePlot, NaNsBreakTheLineAndIsolatedPointsShow) {
  Series s = line_series("gap", 0, 10, 101, 1, 0);
  for (size_t i = 0; i < s.x.size(); ++i)
    if (s.x[i] > 4.05 && s.x[i] < 5.95 && i != 50) s.y[i] = kNaN;  // point 50 (x = 5) stays, alone
  s.x[3] = kNaN;
  const Canvas c = draw_curve_plot({s}, {"t", "x", "y"});
  const FoundAxes a = find_axes(c);
  ASSERT_GE(a.x_ticks.size(), 2u);
  const auto column = [&](double v) {
    return static_cast<int>(std::lround(a.x_ticks.front() + (a.x_ticks.back() - a.x_ticks.front()) * v / 10));
  };
  EXPECT_TRUE(rows_with(c, column(4.5), series_colour(0)).empty());
  EXPECT_TRUE(rows_with(c, column(5.5), series_colour(0)).empty());
  EXPECT_FALSE(rows_with(c, column(5.0), series_colour(0)).empty());
  EXPECT_FALSE(rows_with(c, column(3.0), series_colour(0)).empty());
  EXPECT_FALSE(rows_with(c, column(7.0), series_colour(0)).empty());
}

TEST(CurvePlot, EdgeCasesGiveValidPictures) {
  testing_io::TempDir dir;
  const PlotLabels labels{"Edge", "step", "value"};
  const std::vector<std::vector<Series>> cases = {
      {},                                                          // nothing at all
      {Series{"empty", {}, {}}},                                   // an empty series
      {Series{"nan", {1, 2, 3}, {kNaN, kNaN, kNaN}}},              // nothing finite
      {Series{"inf", {1, 2}, {std::numeric_limits<double>::infinity(), 1}}},
      {Series{"one", {5}, {0.5}}},                                 // a single point
      {Series{"flat", {0, 1, 2, 3}, {2, 2, 2, 2}}},                // constant y
      {Series{"ragged", {0, 1, 2, 3}, {1, 2}}},                    // x and y of different lengths
      {Series{"zero", {0, 0}, {0, 0}}},                            // one point, twice, at 0
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string path = dir / ("edge" + std::to_string(k) + ".png");
    ASSERT_NO_THROW(write_curve_png(path, cases[k], labels)) << k;
    const PngImage img = read_png(path);
    ASSERT_TRUE(img.ok) << k;
    EXPECT_EQ(img.width, 640);
    EXPECT_EQ(img.height, 360);
    const Canvas c = draw_curve_plot(cases[k], labels);
    const bool drawable = k >= 3;
    EXPECT_EQ(count_colour(c, series_colour(0)) > 0, drawable) << k;
    EXPECT_EQ(!find_text(c, "no data", 1, false, 190).empty(), !drawable) << k;  // drawn in a muted grey
  }
  // Small and large canvases lay out without throwing.
  EXPECT_NO_THROW(draw_curve_plot({line_series("a", 0, 1, 5, 1, 0)}, labels, 60, 40));
  EXPECT_NO_THROW(draw_curve_plot({line_series("a", 0, 1, 5, 1, 0)}, labels, 1280, 720));
}

// ---- overlay

TEST(OverlayPlot, PanelsCaptionsAndALegendOfTheConfiguredClasses) {
  const int h = 40, w = 50;
  std::vector<float> image(h * w);
  std::vector<uint8_t> gt(h * w, 0), pred(h * w, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      image[y * w + x] = static_cast<float>(x + y);
      gt[y * w + x] = x < 10 ? 1 : x < 20 ? 2 : 0;
      pred[y * w + x] = x < 12 ? 1 : 0;
    }
  const Canvas c = draw_overlay(image, gt, pred, h, w, {4, {"bg", "RV", "Myo", "LV"}}, 2);
  EXPECT_GE(c.width(), 3 * w * 2);
  EXPECT_GT(c.height(), h * 2 + 2 * text_height(1));
  for (const std::string s : {"image", "ground truth", "prediction", "RV", "Myo", "LV"})
    EXPECT_EQ(find_text(c, s, 1).size(), 1u) << s;
  EXPECT_TRUE(find_text(c, "bg", 1).empty());  // the background is not a legend entry
  // Swatches show the pure class colours of classes 1..3 (the panels only hold blends).
  for (int k = 1; k <= 3; ++k) EXPECT_GT(count_colour(c, class_colour(k)), 0) << k;
  EXPECT_EQ(count_colour(c, class_colour(4)), 0);
  // The image panel is grey; the label panels are tinted only where there are labels.
  int tinted = 0;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x) tinted += !is_grey(c.at(x, y));
  const int label_pixels = (20 + 12) * h * 4;  // gt classes 1, 2 and pred class 1, at scale 2
  const int swatch_pixels = 3 * kGlyphCapHeight * kGlyphCapHeight;
  EXPECT_GE(tinted, label_pixels);
  EXPECT_LE(tinted, label_pixels + swatch_pixels);
}

TEST(OverlayPlot, DefaultNamesAndClassCountFromTheLabels) {
  const int h = 20, w = 20;
  const std::vector<float> image(h * w, 1.f);
  std::vector<uint8_t> gt(h * w, 0), pred(h * w, 0);
  gt[5] = 2;
  pred[7] = 1;
  const Canvas c = draw_overlay(image, gt, pred, h, w);
  EXPECT_EQ(find_text(c, "class 1", 1).size(), 1u);
  EXPECT_EQ(find_text(c, "class 2", 1).size(), 1u);
  EXPECT_TRUE(find_text(c, "class 3", 1).empty());
  // Captions wider than the small panels still fit and overlap nothing.
  EXPECT_EQ(find_text(c, "ground truth", 1).size(), 1u);
  EXPECT_EQ(find_text(c, "prediction", 1).size(), 1u);
}

TEST(OverlayPlot, WritesAPngAndRejectsMismatchedSizes) {
  testing_io::TempDir dir;
  const std::vector<float> image(6, 0.f);
  const std::vector<uint8_t> labels(6, 1);
  write_overlay_png(dir / "o.png", image, labels, labels, 2, 3, {3, {}}, 4);
  const PngImage img = read_png(dir / "o.png");
  ASSERT_TRUE(img.ok);
  EXPECT_GE(img.width, 3 * 3 * 4);
  EXPECT_GT(img.height, 2 * 4);
  EXPECT_THROW(draw_overlay(image, labels, std::vector<uint8_t>(5), 2, 3), std::invalid_argument);
  EXPECT_THROW(draw_overlay(std::vector<float>(5), labels, labels, 2, 3), std::invalid_argument);
  EXPECT_THROW(draw_overlay({}, {}, {}, 0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace cs
