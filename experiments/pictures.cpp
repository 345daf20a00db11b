#include "experiments/pictures.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "io/png.h"

namespace cs {
namespace {

// Class colours: background transparent, then distinct hues.
const uint8_t kColours[][3] = {{0, 0, 0},     {230, 60, 60},  {60, 200, 80}, {70, 120, 240}, {240, 200, 40},
                               {200, 80, 220}, {40, 210, 210}, {250, 140, 40}, {150, 150, 150}};

void put(std::vector<uint8_t>& rgb, int W, int x, int y, const uint8_t* c, float alpha = 1.f) {
  uint8_t* p = &rgb[(static_cast<size_t>(y) * W + x) * 3];
  for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>((1 - alpha) * p[k] + alpha * c[k]);
}

}  // namespace

void write_overlay_png(const std::string& path, const std::vector<float>& image, const std::vector<uint8_t>& gt,
                       const std::vector<uint8_t>& pred, int h, int w, int scale) {
  std::vector<float> sorted(image);
  std::sort(sorted.begin(), sorted.end());
  const float lo = sorted[sorted.size() / 100], hi = sorted[sorted.size() * 99 / 100];
  const int W = 3 * w * scale, H = h * scale;
  std::vector<uint8_t> rgb(static_cast<size_t>(W) * H * 3);
  for (int panel = 0; panel < 3; ++panel)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < w * scale; ++x) {
        const size_t i = static_cast<size_t>(y / scale) * w + x / scale;
        const float g = std::clamp((image[i] - lo) / std::max(hi - lo, 1e-6f), 0.f, 1.f);
        const uint8_t grey[3] = {static_cast<uint8_t>(255 * g), static_cast<uint8_t>(255 * g),
                                 static_cast<uint8_t>(255 * g)};
        const int X = panel * w * scale + x;
        put(rgb, W, X, y, grey);
        const uint8_t lab = panel == 1 ? gt[i] : panel == 2 ? pred[i] : 0;
        if (lab > 0) put(rgb, W, X, y, kColours[std::min<int>(lab, 8)], 0.45f);
      }
  write_png_rgb(path, W, H, rgb);
}

void write_curve_png(const std::string& path, const std::vector<Series>& series, int width, int height) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3, 255);
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const int m = 12;
  const uint8_t axis[3] = {120, 120, 120};
  for (int x = m; x < width - m; ++x) put(rgb, width, x, height - m, axis);
  for (int y = m; y < height - m; ++y) put(rgb, width, m, y, axis);
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    int px = -1, py = -1;
    for (size_t i = 0; i < s.x.size(); ++i) {
      const int x = m + static_cast<int>((s.x[i] - x0) / (x1 - x0) * (width - 2 * m - 1));
      const int y = height - m - static_cast<int>((s.y[i] - y0) / (y1 - y0) * (height - 2 * m - 1));
      if (px >= 0) {  // a straight segment from the previous point
        const int steps = std::max(std::abs(x - px), std::abs(y - py)) + 1;
        for (int t = 0; t <= steps; ++t)
          put(rgb, width, px + (x - px) * t / steps, py + (y - py) * t / steps, kColours[1 + k % 7]);
      }
      px = x;
      py = y;
    }
  }
  write_png_rgb(path, width, height, rgb);
}

namespace {
Series read_curve(const std::string& log_path, const std::string& first, const std::string& value_key) {
  Series s;
  std::ifstream f(log_path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string w0, w1, key;
    double step = 0, v = 0;
    if (first == "step") {
      if (!(in >> w0 >> step >> key >> v) || w0 != "step" || key != value_key) continue;
    } else {
      if (!(in >> w0 >> w1 >> step >> key >> v) || w0 != first || w1 != "step" || key != value_key) continue;
    }
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
