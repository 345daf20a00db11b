#include "experiments/evaluation/pretext_pictures.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "experiments/evaluation/pictures.h"

namespace cs {
namespace {

const Rgb kRight{20, 160, 60};   // as the positives of the similarity matrix
const Rgb kWrong{200, 40, 40};
const Rgb kSquare{250, 210, 0};  // the inpainted square: visible on grey
constexpr int kTs = 2;           // title, headings and the texts under the panels
constexpr int kMargin = 8;
constexpr int kCaptionLineGap = 3;

int predicted_turn(const float* logits) {
  return static_cast<int>(std::max_element(logits, logits + kRotations) - logits);  // as PretextProbe::read
}

// `thickness` one-pixel outlines just outside the box (x, y, w, h), which stays as it is.
void frame_outside(Canvas& c, int x, int y, int w, int h, Rgb colour, int thickness) {
  for (int t = 1; t <= thickness; ++t) c.rect(x - t, y - t, w + 2 * t, h + 2 * t, colour);
}

// image [side][side] at (x, y), each pixel a scale x scale block, colour(value).
template <typename Colour>
void draw_panel(Canvas& c, int x, int y, const float* image, int side, int scale, Colour colour) {
  for (int r = 0; r < side; ++r)
    for (int col = 0; col < side; ++col)
      c.fill_rect(x + col * scale, y + r * scale, scale, scale, colour(image[static_cast<size_t>(r) * side + col]));
}

// Greedy line breaks at spaces: lines no wider than `width` (a longer word stands alone).
std::vector<std::string> wrap(const std::string& text, int width, int scale) {
  std::vector<std::string> lines;
  std::string line;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(at, end - at);
    at = end + 1;
    if (word.empty()) continue;
    const std::string longer = line.empty() ? word : line + " " + word;
    if (line.empty() || text_width(longer, scale) <= width) {
      line = longer;
    } else {
      lines.push_back(line);
      line = word;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// The square the mask covers in image i (rows r0..r1, columns c0..c1); false without one.
bool mask_box(const PretextBatch& b, int i, int& r0, int& c0, int& r1, int& c1) {
  if (b.mask.empty()) return false;
  const int side = b.side;
  r0 = c0 = side, r1 = c1 = -1;
  const float* m = b.mask.data() + static_cast<size_t>(i) * side * side;
  for (int r = 0; r < side; ++r)
    for (int col = 0; col < side; ++col)
      if (m[static_cast<size_t>(r) * side + col] != 0.f)
        r0 = std::min(r0, r), r1 = std::max(r1, r), c0 = std::min(c0, col), c1 = std::max(c1, col);
  return r1 >= 0;
}

void check_sizes(PretextTask task, const PretextBatch& b, const std::vector<float>& output) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format("pretext picture ({}): {}", pretext_task_name(task), what));
  };
  if (b.side <= 0 || b.images <= 0) fail("an empty batch");
  const size_t px = static_cast<size_t>(b.side) * b.side, all = px * b.images;
  if (b.input.size() != all) fail("the input must hold images x side x side values");
  if (task == PretextTask::Rotation) {
    if (b.images % kRotations != 0 || b.turns.size() != static_cast<size_t>(b.images))
      fail("the images must come in fours, each with its turn");
    if (output.size() != static_cast<size_t>(b.images) * kRotations) fail("the output must hold 4 logits per image");
    return;
  }
  if (b.target.size() != all) fail("the target must hold images x side x side values");
  if (!b.mask.empty() && b.mask.size() != all) fail("the mask must hold images x side x side values");
  if (output.size() != all) fail("the output must hold images x side x side values");
}

}  // namespace

Canvas draw_pretext_picture(PretextTask task, const PretextBatch& b, const std::vector<float>& output,
                            const std::string& title, int rows, int scale) {
  check_sizes(task, b, output);
  const bool rotation = task == PretextTask::Rotation;
  const int side = b.side, per_slice = rotation ? kRotations : 1;
  const size_t px = static_cast<size_t>(side) * side;
  const int n = std::clamp(rows, 1, b.images / per_slice);
  if (scale <= 0) scale = std::max(1, (128 + side / 2) / side);
  const int pw = side * scale;

  // Columns: a heading over each (restoration, inpainting) or two lines under each panel (rotation).
  std::vector<std::string> headings;
  if (task == PretextTask::Restoration) headings = {"input", "target", "output", "error"};
  if (task == PretextTask::Inpainting) headings = {"input", "target", "output"};
  const int columns = rotation ? kRotations : static_cast<int>(headings.size());
  int col_w = pw;
  for (const auto& h : headings) col_w = std::max(col_w, text_width(h, kTs));
  if (rotation)  // the texts under neighbouring panels kept apart
    col_w = std::max({col_w, text_width("true 270", kTs) + kMargin, text_width("predicted 270", kTs) + kMargin});
  const int grid_w = columns * col_w + (columns - 1) * kMargin;

  // What the shown slices score, as the probe scores them, for the caption.
  std::string caption;
  if (rotation) {
    int right = 0;
    for (int i = 0; i < n * kRotations; ++i) right += predicted_turn(&output[size_t(i) * kRotations]) == b.turns[i];
    caption = fmt::format("Each row: a held-out slice turned 0, 90, 180 and 270 degrees counter-clockwise. Under each, "
                          "the true turn and the turn the network predicts (green: right, red: wrong). Right: {} of "
                          "{}.",
                          right, n * kRotations);
  } else {
    double error = 0, corrupted = 0, counted = 0;
    for (size_t p = 0; p < n * px; ++p) {
      if (!b.mask.empty() && b.mask[p] == 0.f) continue;
      const double d = double(output[p]) - b.target[p], c = double(b.input[p]) - b.target[p];
      error += d * d, corrupted += c * c, ++counted;
    }
    if (counted > 0) error /= counted, corrupted /= counted;
    caption = task == PretextTask::Restoration
                  ? fmt::format("Input: the slice with pairs of patches swapped. Target: the original slice. Output: "
                                "what the network restores. Error: abs(output - target), black 0, white the grey range "
                                "of the row. Mean squared error of these slices: output {:.4g}, input {:.4g}.",
                                error, corrupted)
                  : fmt::format("Input: the framed square filled with the mean of the rest of the slice. Target: the "
                                "original slice. Output: what the network paints (the loss counts the square only). "
                                "Mean squared error in these squares: output {:.4g}, input {:.4g}.",
                                error, corrupted);
  }

  const int W = std::max(grid_w, text_width(title, kTs)) + 2 * kMargin;
  const std::vector<std::string> lines = wrap(caption, W - 2 * kMargin, 1);
  const int heading_h = rotation ? 0 : text_height(kTs) + 4;
  const int under_h = rotation ? 6 + 2 * text_height(kTs) + 4 : 0;
  const int row_h = pw + under_h;
  const int caption_h = static_cast<int>(lines.size()) * (text_height(1) + kCaptionLineGap) - kCaptionLineGap;
  const int H = kMargin + text_height(kTs) + kMargin + heading_h + n * row_h + (n - 1) * kMargin + kMargin + caption_h +
                kMargin;
  Canvas c(W, H, kPaper);
  c.text((W - text_width(title, kTs)) / 2, kMargin, title, kInk, kTs);
  const int x0 = (W - grid_w) / 2;
  auto column_x = [&](int k) { return x0 + k * (col_w + kMargin); };
  int y = 2 * kMargin + text_height(kTs);
  for (size_t k = 0; k < headings.size(); ++k)
    c.text(column_x(static_cast<int>(k)) + (col_w - text_width(headings[k], kTs)) / 2, y, headings[k], kInk, kTs);
  y += heading_h;

  for (int row = 0; row < n; ++row, y += row_h + kMargin) {
    const int first = row * per_slice;
    // One grey window per row: the original slice's (the turns share it; the corrupted input and
    // the output are shown on the target's scale).
    const float* reference = (rotation ? b.input.data() : b.target.data()) + first * px;
    const auto window = display_window(std::vector<float>(reference, reference + px));
    auto grey = [&](float v) { return grey_level(v, window); };
    if (rotation) {
      for (int r = 0; r < kRotations; ++r) {
        const int i = first + r, x = column_x(r) + (col_w - pw) / 2;
        draw_panel(c, x, y, b.input.data() + i * px, side, scale, grey);
        const int truth = b.turns[i], guess = predicted_turn(&output[size_t(i) * kRotations]);
        const Rgb verdict = guess == truth ? kRight : kWrong;
        frame_outside(c, x, y, pw, pw, verdict, 2);
        const std::string said[2] = {fmt::format("true {}", truth * 90), fmt::format("predicted {}", guess * 90)};
        int ty = y + pw + 6;
        for (int l = 0; l < 2; ++l, ty += text_height(kTs) + 4)
          c.text(column_x(r) + (col_w - text_width(said[l], kTs)) / 2, ty, said[l], l == 0 ? kInk : verdict, kTs);
      }
      continue;
    }
    const float* panels[3] = {b.input.data() + first * px, b.target.data() + first * px, output.data() + first * px};
    for (int k = 0; k < 3; ++k) draw_panel(c, column_x(k) + (col_w - pw) / 2, y, panels[k], side, scale, grey);
    if (task == PretextTask::Restoration) {
      const float range = std::max(window.second - window.first, 1e-6f);
      std::vector<float> error(px);
      for (size_t p = 0; p < px; ++p) error[p] = std::fabs(panels[2][p] - panels[1][p]);
      draw_panel(c, column_x(3) + (col_w - pw) / 2, y, error.data(), side, scale,
                 [&](float v) { return grey_level(v, {0.f, range}); });
    }
    int r0, c0, r1, c1;
    if (mask_box(b, first, r0, c0, r1, c1))
      for (int k = 0; k < 3; ++k)
        frame_outside(c, column_x(k) + (col_w - pw) / 2 + c0 * scale, y + r0 * scale, (c1 - c0 + 1) * scale,
                      (r1 - r0 + 1) * scale, kSquare, 1);
  }
  // y: the loop's margin after the last row is the one above the caption.
  for (const std::string& line : lines) {
    c.text((W - text_width(line, 1)) / 2, y, line, kInk, 1);
    y += text_height(1) + kCaptionLineGap;
  }
  return c;
}

Canvas draw_pretext_picture(PretextProbe& probe, UNet& model, const std::string& title, int rows, int scale) {
  const PretextTask task = probe.task();
  const int per_slice = task == PretextTask::Rotation ? kRotations : 1, wanted = std::max(rows, 1) * per_slice;
  // The first images of the probe's batches, each batch run whole: batch norm sees the batch the
  // probe's reading sees.
  PretextBatch shown;
  std::vector<float> output;
  for (size_t k = 0; k < probe.batches().size() && shown.images < wanted; ++k) {
    const PretextBatch& b = probe.batches()[k];
    const std::vector<float> out = probe.output(model, k);
    const int take = std::min(b.images, wanted - shown.images);
    const size_t px = static_cast<size_t>(b.side) * b.side, per_image = out.size() / b.images;
    shown.side = b.side;
    shown.images += take;
    shown.input.insert(shown.input.end(), b.input.begin(), b.input.begin() + take * px);
    if (!b.target.empty()) shown.target.insert(shown.target.end(), b.target.begin(), b.target.begin() + take * px);
    if (!b.mask.empty()) shown.mask.insert(shown.mask.end(), b.mask.begin(), b.mask.begin() + take * px);
    if (!b.turns.empty()) shown.turns.insert(shown.turns.end(), b.turns.begin(), b.turns.begin() + take);
    output.insert(output.end(), out.begin(), out.begin() + take * per_image);
  }
  return draw_pretext_picture(task, shown, output, title, rows, scale);
}

void write_pretext_picture(const std::string& path, PretextProbe& probe, UNet& model, const std::string& title,
                           int rows, int scale) {
  draw_pretext_picture(probe, model, title, rows, scale).write_png(path);
}

}  // namespace cs
