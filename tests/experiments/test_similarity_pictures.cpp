// The pictures of what the contrastive stages compare (experiments/evaluation/similarity_pictures.h).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "experiments/evaluation/similarity_pictures.h"
#include "support/canvas_test_util.h"

namespace cs {
namespace {

using testing_canvas::count_colour;

const Rgb kSelfGrey{175, 175, 175}, kPositiveGreen{20, 160, 60}, kNegativeFrame{70, 70, 70};

TEST(SimilarityMatrix, CosinesOfRows) {
  const std::vector<float> z = {1, 0, /**/ 2, 0, /**/ 0, 3, /**/ 0, 0};
  const auto s = cosine_matrix(z, 4);
  EXPECT_NEAR(s[0 * 4 + 1], 1.0, 1e-12);
  EXPECT_NEAR(s[0 * 4 + 2], 0.0, 1e-12);
  EXPECT_NEAR(s[1 * 4 + 1], 1.0, 1e-12);
  EXPECT_EQ(s[3 * 4 + 0], 0.0);  // a zero row
  EXPECT_THROW(cosine_matrix(z, 3), std::invalid_argument);
}

// Row 0 has the term (0, 1) with negatives {2}: cell (0, 1) is framed green, (0, 2) dark, (0, 3)
// not at all; the diagonal is grey.
TEST(SimilarityMatrix, PositivesAndNegativesAreOutlined) {
  ContrastSpec spec;
  spec.rows = 4;
  spec.rule = NegativeRule::Explicit;
  spec.terms = {{0, 1, 0, 1.f}};
  spec.neg_offset = {0, 1};
  spec.neg_index = {2};
  const std::vector<float> z = {1, 0, 0.9f, 0.1f, 0, 1, -1, 0.2f};
  const Canvas c = draw_similarity_matrix(z, spec, "t", "rows");
  // The first grey pixel in raster order is the top-left corner of cell (0, 0).
  int x0 = -1, y0 = -1;
  for (int y = 0; y < c.height() && x0 < 0; ++y)
    for (int x = 0; x < c.width(); ++x)
      if (c.at(x, y) == kSelfGrey) {
        x0 = x, y0 = y;
        break;
      }
  ASSERT_GE(x0, 0);
  int cell = 0;
  while (c.at(x0 + cell, y0) == kSelfGrey) ++cell;
  ASSERT_GT(cell, 4);
  EXPECT_EQ(c.at(x0 + cell, y0), kPositiveGreen);          // (0, 1): frame
  EXPECT_EQ(c.at(x0 + 2 * cell, y0), kNegativeFrame);      // (0, 2)
  EXPECT_NE(c.at(x0 + 3 * cell, y0), kNegativeFrame);      // (0, 3): neither
  EXPECT_NE(c.at(x0 + 3 * cell, y0), kPositiveGreen);
  EXPECT_EQ(c.at(x0 + cell + cell / 2, y0 + cell + cell / 2), kSelfGrey);  // (1, 1)
  EXPECT_THROW(draw_similarity_matrix(std::vector<float>(6), spec, "t", "rows"), std::invalid_argument);
}

// A 4x4 image over 2x2 features (each feature a 2x2 block, drawn at scale 3 as 6x6 pixels): the
// one feature opposite the query's shows as the full blue of -1, and only it.
TEST(SimilarityMaps, EachFeatureCellShowsItsCosineToTheQuery) {
  const std::vector<float> image(16, 1.f);
  const std::vector<QueryPixel> q = {{0, 0, "a"}};
  // cell 3 (bottom right) is out of reach of the cross that marks the query
  const std::vector<float> with_opposite = {1, 0, /**/ 1, 0, /**/ 0, 1, /**/ -1, 0};
  const std::vector<float> without = {1, 0, /**/ 1, 0, /**/ 0, 1, /**/ 1, 0};
  const Rgb blue = similarity_colour(-1);
  const int a = count_colour(draw_similarity_maps(image, 4, 4, with_opposite, 2, 2, 2, q, "t"), blue);
  const int b = count_colour(draw_similarity_maps(image, 4, 4, without, 2, 2, 2, q, "t"), blue);
  EXPECT_EQ(a - b, 36);
  EXPECT_EQ(similarity_colour(0), (Rgb{255, 255, 255}));
  EXPECT_THROW(draw_similarity_maps(image, 4, 4, without, 3, 3, 2, q, "t"), std::invalid_argument);
  EXPECT_THROW(draw_similarity_maps(image, 4, 4, without, 2, 2, 2, {{4, 0, "out"}}, "t"), std::invalid_argument);
}

// Every text of a picture inside it and clear of every other: at the demo's 32-pixel size the
// headings are wider than the panels under them.
void expect_texts_fit(const Canvas& c) {
  const auto& t = c.text_boxes();
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_TRUE(t[i].x >= 0 && t[i].y >= 0 && t[i].x + t[i].w <= c.width() && t[i].y + t[i].h <= c.height())
        << "'" << t[i].text << "' leaves the " << c.width() << "x" << c.height() << " picture";
    for (size_t j = i + 1; j < t.size(); ++j) {
      const bool apart = t[i].x + t[i].w <= t[j].x || t[j].x + t[j].w <= t[i].x || t[i].y + t[i].h <= t[j].y ||
                         t[j].y + t[j].h <= t[i].y;
      EXPECT_TRUE(apart) << "'" << t[i].text << "' overlaps '" << t[j].text << "'";
    }
  }
}

TEST(SimilarityMaps, TextsFitAtEverySize) {
  for (int side : {8, 32, 64, 192}) {
    const int fside = side / 2, channels = 3;
    std::vector<float> image(static_cast<size_t>(side) * side), features(static_cast<size_t>(fside) * fside * channels);
    for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>(i % 7);
    for (size_t i = 0; i < features.size(); ++i) features[i] = static_cast<float>((i * 5) % 11) - 5.f;
    const std::vector<QueryPixel> q = {{1, 1, "background"}, {side / 2, side / 2, "myocardium"}};
    SCOPED_TRACE("side " + std::to_string(side));
    expect_texts_fit(draw_similarity_maps(image, side, side, features, fside, fside, channels, q,
                                          "g2 features of a held-out slice, step 0"));
  }
}

}  // namespace
}  // namespace cs
