#pragma once
// PNG writing for pictures (overlays, curves, loss diagrams). Written atomically (autograd/atomic_file.h).
#include <cstdint>
#include <string>
#include <vector>

namespace cs {

// rgb: height*width*3 bytes, row-major. Throws std::runtime_error naming the path on failure.
void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb);
// gray: height*width bytes.
void write_png_gray(const std::string& path, int width, int height, const std::vector<uint8_t>& gray);

}  // namespace cs
