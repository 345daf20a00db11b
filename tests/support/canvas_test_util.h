#pragma once
// Pixel helpers shared by the canvas (io) and picture (experiments) tests.
#include <png.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/drawing/canvas.h"

namespace cs::testing_canvas {

inline const Rgb kWhite{255, 255, 255};
inline const Rgb kBlack{0, 0, 0};

inline int count_colour(const Canvas& c, Rgb colour, int y_from = 0, int y_to = -1) {
  if (y_to < 0) y_to = c.height();
  int n = 0;
  for (int y = y_from; y < y_to; ++y)
    for (int x = 0; x < c.width(); ++x) n += c.at(x, y) == colour;
  return n;
}

struct PngImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  bool ok = false;
};
inline PngImage read_png(const std::string& path) {
  PngImage out;
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return out;
  img.format = PNG_FORMAT_RGB;
  out.rgb.resize(PNG_IMAGE_SIZE(img));
  out.ok = png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr) != 0;
  out.width = static_cast<int>(img.width);
  out.height = static_cast<int>(img.height);
  return out;
}

}  // namespace cs::testing_canvas
