#pragma once
// Pictures of a run: segmentation overlays and training curves, as PNG files.
#include <cstdint>
#include <string>
#include <vector>

namespace cs {

// Three panels side by side: the image, the ground truth over it, the prediction over it.
// image [h][w] (any range; displayed between its 1st and 99th percentiles), labels [h][w].
void write_overlay_png(const std::string& path, const std::vector<float>& image,
                       const std::vector<uint8_t>& gt, const std::vector<uint8_t>& pred, int h, int w,
                       int scale = 2);

// A line plot of one or more series (x, y) on shared axes; colours in series order.
struct Series {
  std::vector<double> x, y;
};
void write_curve_png(const std::string& path, const std::vector<Series>& series, int width = 480,
                     int height = 240);

// The step and loss columns of a run folder's log.txt ("step N loss X ..." lines).
Series read_loss_curve(const std::string& log_path);
// The validation curve ("validate step N foreground_dice X" lines).
Series read_validation_curve(const std::string& log_path);

}  // namespace cs
