#pragma once
// Pictures of a run: segmentation overlays and training curves, as PNG files.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/drawing/canvas.h"

namespace cs {

inline constexpr Rgb kPaper{255, 255, 255};  // the background of every picture
inline constexpr Rgb kInk{30, 30, 30};       // titles, captions, axis labels, legend names

// Which classes an overlay's legend names. count includes the background (class 0); 0 takes
// the largest label present + 1. names[k] names class k (index 0 = background, as in
// PreprocessParams::class_names); a missing or empty name reads "class k".
struct OverlayClasses {
  int count = 0;
  std::vector<std::string> names;
};

// Three captioned panels side by side: the image, the ground truth over it, the prediction over
// it, with a legend strip below (a colour swatch and a name per foreground class).
// image [h][w] (any range; displayed between its 1st and 99th percentiles), labels [h][w];
// every pixel becomes a scale x scale block. Throws std::invalid_argument on size mismatches.
Canvas draw_overlay(const std::vector<float>& image, const std::vector<uint8_t>& gt, const std::vector<uint8_t>& pred,
                    int h, int w, const OverlayClasses& classes = {}, int scale = 2);
void write_overlay_png(const std::string& path, const std::vector<float>& image, const std::vector<uint8_t>& gt,
                       const std::vector<uint8_t>& pred, int h, int w, const OverlayClasses& classes = {},
                       int scale = 2);

// One curve: points (x[i], y[i]); points where either is NaN or infinite are left out and break
// the line. The name appears in the legend, which is drawn when there is more than one series.
struct Series {
  std::string name;
  std::vector<double> x, y;
};
struct PlotLabels {
  std::string title, x_label, y_label;
};

// A line plot of the series on shared axes with a title, axis labels, ticks at "nice" values
// with a light grid, one colour per series in series order. Empty or all-NaN input gives
// empty axes marked "no data".
Canvas draw_curve_plot(const std::vector<Series>& series, const PlotLabels& labels, int width = 640,
                       int height = 360);
void write_curve_png(const std::string& path, const std::vector<Series>& series, const PlotLabels& labels,
                     int width = 640, int height = 360);

// The 1st and 99th percentiles of the finite values of an image: the window that grey_level maps
// to black..white (non-finite values are black).
std::pair<float, float> display_window(const std::vector<float>& image);
Rgb grey_level(float value, std::pair<float, float> window);

// The colour of label class k in overlays (k >= 1; classes past the palette share its last
// colour) and of series k in curve plots (the palette repeats).
Rgb class_colour(int k);
Rgb series_colour(size_t k);

// Tick values for an axis showing [lo, hi]: consecutive multiples of a step of 1, 2 or 5 x 10^k,
// the first <= lo and the last >= hi, at least 2 and at most max(max_ticks, 3) of them, with the
// smallest such step. A degenerate range (hi <= lo) is widened around lo first; a non-finite one
// gives {0, 1}.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks);
// A tick value as compact text with the precision its step needs: "0", "50", "0.25", and
// mantissa-exponent form ("5e-4", "1.5e-3", "2e6") for steps below 1e-3 or values of 1e6 and up.
std::string format_tick(double value, double step);

// The step and loss columns of a run folder's log.txt ("step N/TOTAL loss X ..." lines; also the
// older "step N loss X ...").
Series read_loss_curve(const std::string& log_path);
// The validation curve ("validate step N foreground_dice X" lines).
Series read_validation_curve(const std::string& log_path);

}  // namespace cs
