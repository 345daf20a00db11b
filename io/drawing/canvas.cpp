#include "io/drawing/canvas.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "io/formats/png.h"

namespace cs {
namespace {

// The font as a sheet that reads like the glyphs look: each band lists its characters, then
// kGlyphHeight rows with one 5-pixel column group per character ('#' set, '.' clear),
// groups separated by one space.
struct FontBand {
  const char* chars;
  const char* rows[kGlyphHeight];
};

const FontBand kFontSheet[] = {
    {"0123456789",
     {".###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###.",
      "#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...#",
      "#..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...#",
      "#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .####",
      "##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....#",
      "#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#.",
      ".###. .###. ##### .###. ...#. .###. .###. .#... .###. .##..",
      "..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
      "..... ..... ..... ..... ..... ..... ..... ..... ..... ....."}},
    {"ABCDEFGHIJ",
     {".###. ####. .###. ###.. ##### ##### .###. #...# .###. ..###",
      "#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#.",
      "#...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#.",
      "##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#.",
      "#...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#.",
      "#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#.",
      "#...# ####. .###. ###.. ##### #.... .#### #...# .###. .##..",
      "..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
      "..... ..... ..... ..... ..... ..... ..... ..... ..... ....."}},
    {"KLMNOPQRST",
     {"#...# #.... #...# #...# .###. ####. .###. ####. .#### #####",
      "#..#. #.... ##.## #...# #...# #...# #...# #...# #.... ..#..",
      "#.#.. #.... #.#.# ##..# #...# #...# #...# #...# #.... ..#..",
      "##... #.... #.#.# #.#.# #...# ####. #...# ####. .###. ..#..",
      "#.#.. #.... #...# #..## #...# #.... #.#.# #.#.. ....# ..#..",
      "#..#. #.... #...# #...# #...# #.... #..#. #..#. ....# ..#..",
      "#...# ##### #...# #...# .###. #.... .##.# #...# ####. ..#..",
      "..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
      "..... ..... ..... ..... ..... ..... ..... ..... ..... ....."}},
    {"UVWXYZ.,-+",
     {"#...# #...# #...# #...# #...# ##### ..... ..... ..... .....",
      "#...# #...# #...# #...# #...# ....# ..... ..... ..... ..#..",
      "#...# #...# #...# .#.#. .#.#. ...#. ..... ..... ..... ..#..",
      "#...# #...# #.#.# ..#.. ..#.. ..#.. ..... ..... ##### #####",
      "#...# #...# #.#.# .#.#. ..#.. .#... ..... ..... ..... ..#..",
      "#...# .#.#. #.#.# #...# ..#.. #.... .##.. .##.. ..... ..#..",
      ".###. ..#.. .#.#. #...# ..#.. ##### .##.. .##.. ..... .....",
      "..... ..... ..... ..... ..... ..... ..... ..#.. ..... .....",
      "..... ..... ..... ..... ..... ..... ..... .#... ..... ....."}},
    {"abcdefghij",
     {"..... #.... ..... ....# ..... ..##. ..... #.... ..#.. ...#.",
      "..... #.... ..... ....# ..... .#..# ..... #.... ..... .....",
      ".###. #.##. .###. .##.# .###. .#... .#### #.##. .##.. ..##.",
      "....# ##..# #.... #..## #...# ###.. #...# ##..# ..#.. ...#.",
      ".#### #...# #.... #...# ##### .#... #...# #...# ..#.. ...#.",
      "#...# #...# #...# #...# #.... .#... #...# #...# ..#.. ...#.",
      ".#### ####. .###. .#### .###. .#... .#### #...# .###. ...#.",
      "..... ..... ..... ..... ..... ..... ....# ..... ..... #..#.",
      "..... ..... ..... ..... ..... ..... .###. ..... ..... .##.."}},
    {"klmnopqrst",
     {"#.... .##.. ..... ..... ..... ..... ..... ..... ..... .#...",
      "#.... ..#.. ..... ..... ..... ..... ..... ..... ..... .#...",
      "#..#. ..#.. ##.#. #.##. .###. ####. .#### #.##. .#### ###..",
      "#.#.. ..#.. #.#.# ##..# #...# #...# #...# ##..# #.... .#...",
      "##... ..#.. #.#.# #...# #...# #...# #...# #.... .###. .#...",
      "#.#.. ..#.. #.#.# #...# #...# #...# #...# #.... ....# .#..#",
      "#..#. .###. #.#.# #...# .###. ####. .#### #.... ####. ..##.",
      "..... ..... ..... ..... ..... #.... ....# ..... ..... .....",
      "..... ..... ..... ..... ..... #.... ....# ..... ..... ....."}},
    {"uvwxyz:()/",
     {"..... ..... ..... ..... ..... ..... ..... ...#. .#... ....#",
      "..... ..... ..... ..... ..... ..... .##.. ..#.. ..#.. ....#",
      "#...# #...# #...# #...# #...# ##### .##.. .#... ...#. ...#.",
      "#...# #...# #...# .#.#. #...# ...#. ..... .#... ...#. ..#..",
      "#...# #...# #.#.# ..#.. #...# ..#.. .##.. .#... ...#. .#...",
      "#..## .#.#. #.#.# .#.#. #...# .#... .##.. ..#.. ..#.. #....",
      ".##.# ..#.. .#.#. #...# .#### ##### ..... ...#. .#... #....",
      "..... ..... ..... ..... ....# ..... ..... ..... ..... .....",
      "..... ..... ..... ..... .###. ..... ..... ..... ..... ....."}},
    {"%=_^ ",
     {"##... ..... ..... ..#.. .....",
      "##..# ..... ..... .#.#. .....",
      "...#. ##### ..... #...# .....",
      "..#.. ..... ..... ..... .....",
      ".#... ##### ..... ..... .....",
      "#..## ..... ..... ..... .....",
      "...## ..... ..... ..... .....",
      "..... ..... ..... ..... .....",
      "..... ..... ##### ..... ....."}},
};

// Glyph rows as bit masks (bit c = column c), indexed by character code.
struct Font {
  std::array<std::array<uint8_t, kGlyphHeight>, 128> rows{};
  std::array<bool, 128> present{};
  std::string characters;
};

// Reads the sheet once; a malformed sheet is a programming error, reported loudly.
Font parse_font_sheet() {
  Font font;
  for (const FontBand& band : kFontSheet) {
    const std::string chars = band.chars;
    for (int row = 0; row < kGlyphHeight; ++row) {
      const std::string line = band.rows[row];
      if (line.size() != chars.size() * (kGlyphWidth + 1) - 1)
        throw std::logic_error("font sheet: row width does not match the band '" + chars + "'");
      for (size_t k = 0; k < chars.size(); ++k)
        for (int col = 0; col < kGlyphWidth; ++col)
          if (line[k * (kGlyphWidth + 1) + col] == '#')
            font.rows[static_cast<unsigned char>(chars[k])][row] |= static_cast<uint8_t>(1u << col);
    }
    for (char c : chars) {
      font.present[static_cast<unsigned char>(c)] = true;
      font.characters += c;
    }
  }
  return font;
}

const Font& font() {
  static const Font f = parse_font_sheet();
  return f;
}

bool in_font(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 128 && font().present[u];
}

// The stand-in for characters the font lacks: a hollow box over the capital height.
bool missing_glyph_pixel(int col, int row) {
  if (row >= kGlyphCapHeight) return false;
  return col == 0 || col == kGlyphWidth - 1 || row == 0 || row == kGlyphCapHeight - 1;
}

}  // namespace

const std::string& font_characters() { return font().characters; }

bool has_glyph(char c) { return in_font(c); }

bool glyph_pixel(char c, int col, int row) {
  if (col < 0 || row < 0 || col >= kGlyphWidth || row >= kGlyphHeight || !in_font(c)) return false;
  return (font().rows[static_cast<unsigned char>(c)][row] >> col) & 1u;
}

int text_width(const std::string& s, int scale) {
  if (s.empty()) return 0;
  return (static_cast<int>(s.size()) * kGlyphAdvance - (kGlyphAdvance - kGlyphWidth)) * scale;
}

int text_height(int scale) { return kGlyphHeight * scale; }

Canvas::Canvas(int width, int height, Rgb background)
    : width_(std::max(width, 0)), height_(std::max(height, 0)), rgb_(static_cast<size_t>(width_) * height_ * 3) {
  fill(background);
}

Rgb Canvas::at(int x, int y) const {
  const uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::fill(Rgb c) {
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = c.r;
    rgb_[i + 1] = c.g;
    rgb_[i + 2] = c.b;
  }
}

void Canvas::set(int x, int y, Rgb c) {
  if (!inside(x, y)) return;
  uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::blend(int x, int y, Rgb c, float alpha) {
  if (!inside(x, y)) return;
  alpha = std::clamp(alpha, 0.f, 1.f);
  uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
  const uint8_t src[3] = {c.r, c.g, c.b};
  for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(std::lround((1 - alpha) * p[k] + alpha * src[k]));
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width_), y1 = std::min(y + h, height_);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Canvas::rect(int x, int y, int w, int h, Rgb c) {
  if (w <= 0 || h <= 0) return;
  fill_rect(x, y, w, 1, c);
  fill_rect(x, y + h - 1, w, 1, c);
  fill_rect(x, y, 1, h, c);
  fill_rect(x + w - 1, y, 1, h, c);
}

void Canvas::line(int x0, int y0, int x1, int y1, Rgb c, int thickness) {
  thickness = std::max(thickness, 1);
  const int before = (thickness - 1) / 2;  // brush offset so the brush is centred on the line
  // Bresenham: step along the longer axis, carry the error along the shorter one.
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    if (thickness == 1)
      set(x0, y0, c);
    else
      fill_rect(x0 - before, y0 - before, thickness, thickness, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

template <typename Plot>
void Canvas::for_each_text_pixel(const std::string& s, int scale, Plot plot) {
  scale = std::max(scale, 1);
  for (size_t k = 0; k < s.size(); ++k) {
    const bool known = in_font(s[k]);
    for (int row = 0; row < kGlyphHeight; ++row)
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!(known ? glyph_pixel(s[k], col, row) : missing_glyph_pixel(col, row))) continue;
        const int gx = (static_cast<int>(k) * kGlyphAdvance + col) * scale, gy = row * scale;
        for (int by = 0; by < scale; ++by)
          for (int bx = 0; bx < scale; ++bx) plot(gx + bx, gy + by);
      }
  }
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  for_each_text_pixel(s, scale, [&](int dx, int dy) { set(x + dx, y + dy, c); });
  texts_.push_back({x, y, text_width(s, scale), text_height(scale), s});
}

void Canvas::text_up(int x, int y, const std::string& s, Rgb c, int scale) {
  // Turning counter-clockwise maps the text's x to upwards and its y (down) to the right.
  for_each_text_pixel(s, scale, [&](int dx, int dy) { set(x + dy, y - 1 - dx, c); });
  texts_.push_back({x, y - text_width(s, scale), text_height(scale), text_width(s, scale), s});
}

void Canvas::write_png(const std::string& path) const { write_png_rgb(path, width_, height_, rgb_); }

}  // namespace cs
