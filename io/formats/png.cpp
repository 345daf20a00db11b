#include "io/formats/png.h"

#include <png.h>

#include <cstdio>
#include <stdexcept>

#include "autograd/atomic_file.h"

namespace cs {
namespace {

void write_png(const std::string& path, int width, int height, int channels, const uint8_t* px) {
  if (width <= 0 || height <= 0) throw std::runtime_error(path + ": empty image");
  write_file_atomic(path, [&](std::FILE* f) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
      png_destroy_write_struct(&png, &info);
      throw std::runtime_error(path + ": PNG encoding failed");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, width, height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y)
      png_write_row(png, const_cast<png_bytep>(px + static_cast<size_t>(y) * width * channels));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
  });
}

}  // namespace

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  if (rgb.size() != static_cast<size_t>(width) * height * 3)
    throw std::invalid_argument(path + ": RGB buffer size does not match " + std::to_string(width) + "x" +
                                std::to_string(height));
  write_png(path, width, height, 3, rgb.data());
}

void write_png_gray(const std::string& path, int width, int height, const std::vector<uint8_t>& gray) {
  if (gray.size() != static_cast<size_t>(width) * height)
    throw std::invalid_argument(path + ": gray buffer size does not match " + std::to_string(width) + "x" +
                                std::to_string(height));
  write_png(path, width, height, 1, gray.data());
}

}  // namespace cs
