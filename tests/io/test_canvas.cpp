// The raster canvas (io/drawing/canvas.h): its font, text, drawing and PNG output.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "io/drawing/canvas.h"
#include "support/canvas_test_util.h"
#include "support/io_test_util.h"

namespace cs {
namespace {

using namespace testing_canvas;

struct Box {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;  // inclusive; empty while x1 < x0
  bool empty() const { return x1 < x0; }
};

Box ink_box(const Canvas& c, Rgb ink) {
  Box b;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x)
      if (c.at(x, y) == ink) b = {std::min(b.x0, x), std::min(b.y0, y), std::max(b.x1, x), std::max(b.y1, y)};
  return b;
}

// The glyph of ch as a 9-row string of 5-character rows, for comparing glyphs.
std::string glyph_bits(char ch) {
  std::string s;
  for (int row = 0; row < kGlyphHeight; ++row)
    for (int col = 0; col < kGlyphWidth; ++col) s += glyph_pixel(ch, col, row) ? '#' : '.';
  return s;
}

// ---- font

TEST(CanvasFont, CoversTheCharactersPicturesNeed) {
  const std::string needed =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .,-+:()/%=_^";
  for (char ch : needed) EXPECT_TRUE(has_glyph(ch)) << "'" << ch << "'";
  for (char ch : needed) EXPECT_NE(font_characters().find(ch), std::string::npos) << "'" << ch << "'";
  EXPECT_FALSE(has_glyph('~'));
  EXPECT_FALSE(has_glyph('\n'));
}

TEST(CanvasFont, EveryGlyphIsNonEmptyAndDistinct) {
  std::set<std::string> seen;
  for (char ch : font_characters()) {
    const std::string bits = glyph_bits(ch);
    if (ch == ' ') {
      EXPECT_EQ(bits.find('#'), std::string::npos) << "space must be blank";
      continue;
    }
    EXPECT_NE(bits.find('#'), std::string::npos) << "glyph '" << ch << "' is empty";
    EXPECT_TRUE(seen.insert(bits).second) << "glyph '" << ch << "' repeats another glyph";
  }
  EXPECT_EQ(seen.size() + 1, font_characters().size());
}

TEST(CanvasFont, OnlyDescendersReachBelowTheBaseline) {
  const std::string descenders = "gjpqy,_";
  for (char ch : font_characters()) {
    bool below = false;
    for (int row = kGlyphCapHeight; row < kGlyphHeight; ++row)
      for (int col = 0; col < kGlyphWidth; ++col) below |= glyph_pixel(ch, col, row);
    EXPECT_EQ(below, descenders.find(ch) != std::string::npos) << "'" << ch << "'";
  }
  EXPECT_FALSE(glyph_pixel('A', -1, 0));
  EXPECT_FALSE(glyph_pixel('A', kGlyphWidth, 0));
  EXPECT_FALSE(glyph_pixel('A', 0, kGlyphHeight));
}

// ---- text

TEST(CanvasText, InkStaysInsideTheReportedBoxAndReachesItsEnds) {
  for (int scale : {1, 2, 3})
    for (const std::string s : {"Hello 0.5", "Wj", "1e-3", "(x_y)^2 = 50%", "M"}) {
      Canvas c(300, 60, kWhite);
      const int x0 = 7, y0 = 5, w = text_width(s, scale);
      c.text(x0, y0, s, kBlack, scale);
      const Box b = ink_box(c, kBlack);
      ASSERT_FALSE(b.empty()) << s;
      EXPECT_GE(b.x0, x0) << s;
      EXPECT_GE(b.y0, y0) << s;
      EXPECT_LT(b.x1, x0 + w) << s;
      EXPECT_LT(b.y1, y0 + text_height(scale)) << s;
      // Ink in the first and the last glyph cell: the width neither cuts nor pads the text.
      EXPECT_LT(b.x0, x0 + kGlyphWidth * scale) << s;
      EXPECT_GE(b.x1, x0 + w - kGlyphWidth * scale) << s;
    }
}

TEST(CanvasText, WidthCountsCellsWithoutATrailingGap) {
  EXPECT_EQ(text_width("", 1), 0);
  EXPECT_EQ(text_width("A", 1), kGlyphWidth);
  EXPECT_EQ(text_width("AB", 1), kGlyphAdvance + kGlyphWidth);
  EXPECT_EQ(text_width("ABC", 2), 2 * (2 * kGlyphAdvance + kGlyphWidth));
  EXPECT_EQ(text_height(3), 3 * kGlyphHeight);
}

TEST(CanvasText, ScaledTextIsTheGlyphBlownUp) {
  Canvas small(20, 12, kWhite), big(40, 24, kWhite);
  small.text(0, 0, "R7", kBlack, 1);
  big.text(0, 0, "R7", kBlack, 2);
  for (int y = 0; y < big.height(); ++y)
    for (int x = 0; x < big.width(); ++x) ASSERT_EQ(big.at(x, y), small.at(x / 2, y / 2)) << x << "," << y;
}

TEST(CanvasText, UnknownCharactersStillTakeACellAndShow) {
  Canvas c(30, 12, kWhite);
  c.text(0, 0, "~", kBlack, 1);
  const Box b = ink_box(c, kBlack);
  ASSERT_FALSE(b.empty());
  EXPECT_LT(b.x1, text_width("~"));
}

TEST(CanvasText, UpwardTextIsTheHorizontalTextTurned) {
  const std::string s = "Dice (%)";
  const int w = text_width(s, 2), h = text_height(2);
  Canvas flat(w, h, kWhite), turned(h + 10, w + 10, kWhite);
  flat.text(0, 0, s, kBlack, 2);
  const int x0 = 4, y0 = w + 6;  // bottom-left corner of the turned text
  turned.text_up(x0, y0, s, kBlack, 2);
  for (int dy = 0; dy < h; ++dy)
    for (int dx = 0; dx < w; ++dx)
      ASSERT_EQ(flat.at(dx, dy), turned.at(x0 + dy, y0 - 1 - dx)) << dx << "," << dy;
  const Box b = ink_box(turned, kBlack);
  EXPECT_GE(b.x0, x0);
  EXPECT_LT(b.x1, x0 + h);
  EXPECT_GE(b.y0, y0 - w);
  EXPECT_LT(b.y1, y0);
}

// ---- drawing

TEST(CanvasDraw, LinesIncludeBothEndsAndStayConnected) {
  Canvas c(50, 40, kWhite);
  c.line(3, 5, 20, 5, kBlack);
  EXPECT_EQ(count_colour(c, kBlack), 18);
  c.fill(kWhite);
  c.line(40, 30, 2, 11, kBlack);  // shallow, drawn right to left
  EXPECT_EQ(c.at(40, 30), kBlack);
  EXPECT_EQ(c.at(2, 11), kBlack);
  for (int x = 2; x <= 40; ++x) {  // exactly one pixel per column of a shallow line
    int n = 0;
    for (int y = 0; y < c.height(); ++y) n += c.at(x, y) == kBlack;
    EXPECT_EQ(n, 1) << "column " << x;
  }
  c.fill(kWhite);
  c.line(10, 10, 10, 10, kBlack, 3);
  const Box b = ink_box(c, kBlack);
  EXPECT_EQ(b.x1 - b.x0 + 1, 3);
  EXPECT_EQ(b.y1 - b.y0 + 1, 3);
}

TEST(CanvasDraw, RectanglesCoverTheirBoxAndClipAtTheEdges) {
  Canvas c(20, 10, kWhite);
  c.fill_rect(2, 3, 4, 5, kBlack);
  EXPECT_EQ(count_colour(c, kBlack), 20);
  const Box b = ink_box(c, kBlack);
  EXPECT_EQ(b.x0, 2);
  EXPECT_EQ(b.y0, 3);
  EXPECT_EQ(b.x1, 5);
  EXPECT_EQ(b.y1, 7);
  c.fill(kWhite);
  c.rect(1, 1, 5, 4, kBlack);
  EXPECT_EQ(count_colour(c, kBlack), 2 * 5 + 2 * 2);
  EXPECT_EQ(c.at(3, 2), kWhite);
  c.fill(kWhite);
  c.fill_rect(-5, -5, 100, 100, kBlack);  // clipped, not an error
  c.line(-30, -7, 40, 25, kBlack, 4);
  c.text(15, 5, "clipped", kBlack, 3);
  c.set(-1, 0, kWhite);
  c.set(20, 0, kWhite);
  EXPECT_EQ(count_colour(c, kBlack), 200);
}

TEST(CanvasDraw, BlendMixesByAlpha) {
  Canvas c(2, 1, Rgb{0, 100, 200});
  c.blend(0, 0, Rgb{200, 100, 0}, 0.5f);
  c.blend(1, 0, Rgb{200, 100, 0}, 0.f);
  EXPECT_EQ(c.at(0, 0), (Rgb{100, 100, 100}));
  EXPECT_EQ(c.at(1, 0), (Rgb{0, 100, 200}));
}

TEST(CanvasPng, WritesWhatItHolds) {
  testing_io::TempDir dir;
  Canvas c(13, 7, kWhite);
  c.set(0, 0, Rgb{10, 20, 30});
  c.set(12, 6, Rgb{200, 0, 100});
  c.write_png(dir / "c.png");
  const PngImage img = read_png(dir / "c.png");
  ASSERT_TRUE(img.ok);
  EXPECT_EQ(img.width, 13);
  EXPECT_EQ(img.height, 7);
  EXPECT_EQ(img.rgb, c.rgb());
}

}  // namespace
}  // namespace cs
