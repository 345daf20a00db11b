#pragma once
// Pictures of what the contrastive stages compare (docs/tutorial.md, "What the features learned"):
//  - the cosine-similarity matrix of one batch with the loss's positives and negatives outlined
//    (stage 1);
//  - for a few query pixels, the cosine similarity of the query's feature vector to the feature
//    vector at every position of the same image (stage 2).
// Each has a colour bar: the matrix runs from white to red over the range of its off-diagonal
// entries, the maps use the diverging scale of similarity_colour.
#include <string>
#include <vector>

#include "io/drawing/canvas.h"
#include "ops/contrast_plan.h"

namespace cs {

// The colour of a cosine similarity in [-1, 1]: -1 blue, 0 white, +1 red (outside: clamped).
Rgb similarity_colour(double cosine);

// Cosine similarities of the rows of z [rows, d] (row-major): [rows, rows]. A zero row has
// similarity 0 with everything.
std::vector<double> cosine_matrix(const std::vector<float>& z, int rows);

// The matrix of cosine_matrix(z) as cells, row = anchor, column = the row it is compared with:
// a green frame where the spec has a term (anchor, positive), a dark frame where the column is in
// a negative set of the row's terms, the diagonal grey; colours as in the header. `caption` (one line) says what the rows
// are. Throws std::invalid_argument when z does not hold spec.rows rows.
Canvas draw_similarity_matrix(const std::vector<float>& z, const ContrastSpec& spec, const std::string& title,
                              const std::string& caption);
void write_similarity_matrix_png(const std::string& path, const std::vector<float>& z, const ContrastSpec& spec,
                                 const std::string& title, const std::string& caption);

// A query: an image pixel (row y, column x) and what it lies in ("LV", "background").
struct QueryPixel {
  int y = 0, x = 0;
  std::string name;
};

// One row per query: the image [h][w] with the query marked, and the cosine similarity of the
// feature vector under the query to every position of features [fh][fw][channels] (the map of the
// same image at a coarser or equal resolution, h = fh * k and w = fw * k), each feature cell a
// k x k block. Throws std::invalid_argument on size mismatches or a query outside the image.
Canvas draw_similarity_maps(const std::vector<float>& image, int h, int w, const std::vector<float>& features,
                            int fh, int fw, int channels, const std::vector<QueryPixel>& queries,
                            const std::string& title, int scale = 3);
void write_similarity_maps_png(const std::string& path, const std::vector<float>& image, int h, int w,
                               const std::vector<float>& features, int fh, int fw, int channels,
                               const std::vector<QueryPixel>& queries, const std::string& title, int scale = 3);

}  // namespace cs
