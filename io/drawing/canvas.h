#pragma once
// A small RGB raster canvas for pictures: filled and outlined rectangles, lines, and text in a
// built-in bitmap font, written out as PNG.
//
// Conventions:
//   - Coordinates are integer pixels, origin at the top-left corner, x to the right, y down.
//   - Rectangles are given as (x, y, width, height) and cover [x, x+width) x [y, y+height).
//   - Colours are three bytes (red, green, blue), 0..255.
//   - Drawing outside the canvas is clipped silently, never an error.
//
// The font: each glyph is 5 pixels wide and 9 rows tall (rows 0..6 hold capitals and digits,
// rows 7..8 the descenders of g, j, p, q, y and the comma), drawn in a cell 6 pixels wide so
// that neighbouring glyphs keep a one-pixel gap. At scale s every font pixel becomes an s x s
// block. Characters without a glyph are drawn as a hollow box.
#include <cstdint>
#include <string>
#include <vector>

namespace cs {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
inline bool operator==(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(Rgb a, Rgb b) { return !(a == b); }

// Font metrics in font pixels (multiply by the scale).
constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 9;    // including descenders
constexpr int kGlyphCapHeight = 7; // digits and capitals: rows 0..6
constexpr int kGlyphAdvance = 6;   // glyph width plus the gap to the next one

// Every character the font has a glyph for (space included).
const std::string& font_characters();
bool has_glyph(char c);
// Whether font pixel (col, row) of the glyph of c is set; false outside the 5 x 9 box and for
// characters without a glyph.
bool glyph_pixel(char c, int col, int row);

// Extent of a one-line string drawn at the given scale: the last glyph has no trailing gap.
int text_width(const std::string& s, int scale = 1);
int text_height(int scale = 1);

// Where a text was drawn, for tests of a picture's layout (texts inside it, none over another).
struct TextBox {
  int x = 0, y = 0, w = 0, h = 0;
  std::string text;
};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < width_ && y < height_; }
  // The colour at (x, y); (x, y) must be inside.
  Rgb at(int x, int y) const;
  // Row-major, 3 bytes per pixel, as write_png_rgb takes it.
  const std::vector<uint8_t>& rgb() const { return rgb_; }

  void fill(Rgb c);
  void set(int x, int y, Rgb c);
  // Mixes c over the current colour: alpha 0 keeps it, 1 replaces it.
  void blend(int x, int y, Rgb c, float alpha);
  void fill_rect(int x, int y, int w, int h, Rgb c);
  // One-pixel outline of the same box fill_rect covers.
  void rect(int x, int y, int w, int h, Rgb c);
  // Both end points included. thickness > 1 draws a square brush of that size centred on the line.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1);
  // One line of text with the top-left of its first glyph cell at (x, y).
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  // Text turned 90 degrees counter-clockwise (reading upwards), as for a vertical axis label.
  // It covers [x, x + text_height) horizontally and [y - text_width, y) vertically: (x, y) is
  // the bottom-left corner of the turned text.
  void text_up(int x, int y, const std::string& s, Rgb c, int scale = 1);

  // Every text drawn so far, in drawing order.
  const std::vector<TextBox>& text_boxes() const { return texts_; }

  // Throws std::runtime_error naming the path on failure.
  void write_png(const std::string& path) const;

 private:
  // Calls plot(dx, dy) for every set font pixel of s, in unrotated text coordinates.
  template <typename Plot>
  static void for_each_text_pixel(const std::string& s, int scale, Plot plot);

  int width_, height_;
  std::vector<uint8_t> rgb_;
  std::vector<TextBox> texts_;
};

}  // namespace cs
