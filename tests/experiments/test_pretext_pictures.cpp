// The pictures of the pretext tasks (experiments/evaluation/pretext_pictures.h): what each shows of
// the probe's held-out slices, that drawing one changes neither the model nor the probe's reading,
// and that it shows what the network makes of the slices.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "experiments/evaluation/pretext_pictures.h"
#include "experiments/evaluation/pretext_probe.h"
#include "experiments/methods/stage_step.h"
#include "experiments/pipeline/data.h"
#include "io/synth/synth.h"
#include "support/canvas_test_util.h"
#include "support/io_test_util.h"
#include "support/phantom_slices.h"
#include "support/step_test_util.h"

namespace cs {
namespace {

using testing_canvas::count_colour;
using testing_canvas::read_png;
using testing_io::TempDir;

const Rgb kRightGreen{20, 160, 60}, kWrongRed{200, 40, 40}, kSquareYellow{250, 210, 0};

using testing_phantom::phantom_stacks;

Settings task_settings(const std::string& task) {
  return testing_step::small_settings({{"image_size", "32"},
                                       {"target_res", "8"},
                                       {"threads", "1"},
                                       {"pretext.task", task},
                                       {"pretext.batch", "8"},
                                       {"pretext.patch", "4"},
                                       {"pretext.swaps", "4"}});
}

// Every parameter and buffer (the batch-norm moving averages) of a model.
std::vector<std::vector<float>> model_state(const UNet& m) {
  std::vector<std::vector<float>> s;
  for (size_t i = 0; i < m.params().num_params(); ++i) s.push_back(m.params().param_at(i).to_vector());
  for (size_t i = 0; i < m.params().num_buffers(); ++i) s.push_back(m.params().buffer_at(i).to_vector());
  return s;
}

int differing_pixels(const Canvas& a, const Canvas& b) {
  if (a.width() != b.width() || a.height() != b.height()) return a.width() * a.height();
  int n = 0;
  for (int y = 0; y < a.height(); ++y)
    for (int x = 0; x < a.width(); ++x) n += a.at(x, y) != b.at(x, y);
  return n;
}

std::vector<std::string> texts(const Canvas& c) {
  std::vector<std::string> t;
  for (const TextBox& b : c.text_boxes()) t.push_back(b.text);
  return t;
}

// For each task, on the probe's held-out slices: a PNG of the expected size; drawn twice, the same
// picture, with the model, its moving averages and the probe's reading untouched; and another
// picture for a network that answers otherwise.
TEST(PretextPictures, EachTaskShowsWhatTheNetworkMakesOfTheProbeSlices) {
  static const std::vector<SliceStack> held_out = phantom_stacks(15, 17);
  TempDir tmp;
  for (const std::string task : {"rotation", "restoration", "inpainting"}) {
    SCOPED_TRACE(task);
    const Settings s = task_settings(task);
    auto model = make_model(s, Stage::Pretext, Device::CPU);
    PretextProbe probe(held_out, s, Rng(1).split("probe"), Device::CPU);
    const PretextProbeReading before = probe.read(*model);
    const auto state = model_state(*model);

    const std::string path = tmp / (task + ".png");
    write_pretext_picture(path, probe, *model, task + ", step 0");
    const auto png = read_png(path);
    ASSERT_TRUE(png.ok);
    // 3 rows of 32 x 32 slices at scale 4 (128 pixels), 4 or 3 columns, a title and a caption.
    const int columns = task == "inpainting" ? 3 : 4;
    EXPECT_GE(png.width, columns * 128);
    EXPECT_LE(png.width, columns * 170 + 40);
    EXPECT_GE(png.height, 3 * 128 + 40);
    EXPECT_LE(png.height, 3 * (128 + 60) + 140);

    const Canvas untrained = draw_pretext_picture(probe, *model, task + ", step 0");
    EXPECT_EQ(untrained.rgb(), png.rgb) << "the same picture at every drawing";
    for (const TextBox& box : untrained.text_boxes()) {  // readable, inside
      for (char ch : box.text) EXPECT_TRUE(has_glyph(ch)) << "'" << ch << "' in: " << box.text;
      EXPECT_GE(box.x, 0) << box.text;
      EXPECT_LE(box.x + box.w, untrained.width()) << box.text;
      EXPECT_LE(box.y + box.h, untrained.height()) << box.text;
    }
    EXPECT_EQ(model_state(*model), state) << "drawing changed the model";
    const PretextProbeReading after = probe.read(*model);
    EXPECT_EQ(after.score, before.score);
    EXPECT_EQ(after.reference, before.reference);

    if (task == "rotation") {
      // Every image predicted as one turn, not the one the untrained network gives the first.
      const auto logits = probe.output(*model, 0);
      const int first = static_cast<int>(std::max_element(logits.begin(), logits.begin() + 4) - logits.begin());
      const int forced = (first + 1) % 4;
      Tensor& w = model->params().param("rot_pred.w");  // [4, 128]; the pooled bottleneck is >= 0
      std::vector<float> v(w.numel(), -1.f);
      std::fill(v.begin() + forced * (v.size() / 4), v.begin() + (forced + 1) * (v.size() / 4), 1.f);
      w.copy_from(Tensor::from_vector(w.shape(), v));
      const Canvas forced_picture = draw_pretext_picture(probe, *model, task + ", step 0");
      const auto t = texts(forced_picture);
      EXPECT_EQ(std::count(t.begin(), t.end(), "predicted " + std::to_string(forced * 90)), 12);
      EXPECT_NE(texts(untrained), t);
      EXPECT_GT(count_colour(forced_picture, kRightGreen), 0);  // a quarter of the images is right
      EXPECT_GT(count_colour(forced_picture, kWrongRed), 0);
    } else {
      // The output shifted by a constant: the output panels change, not only the caption's figures.
      Tensor& b = model->params().param("rec_fin_layer.b");
      std::vector<float> v = b.to_vector();
      for (float& x : v) x += 1.f;
      b.copy_from(Tensor::from_vector(b.shape(), v));
      const Canvas shifted = draw_pretext_picture(probe, *model, task + ", step 0");
      EXPECT_GT(differing_pixels(untrained, shifted), 3 * 128 * 128 / 4);
      EXPECT_EQ(count_colour(shifted, kSquareYellow) > 0, task == "inpainting");
    }
  }
}

// Right turns are green and wrong ones red, in frame and text; the texts say the true and the
// predicted turn.
TEST(PretextPictures, RotationMarksRightAndWrongTurns) {
  constexpr int side = 32;
  std::vector<float> slice(side * side);
  for (size_t i = 0; i < slice.size(); ++i) slice[i] = static_cast<float>(i % 37);
  const PretextBatch b = rotation_batch(slice.data(), 1, side);
  std::vector<float> logits(4 * 4, 0.f);
  for (int i = 0; i < 4; ++i) logits[i * 4 + i] = 1.f;  // all right
  const Canvas right = draw_pretext_picture(PretextTask::Rotation, b, logits, "rotation, step 0", 1);
  EXPECT_GT(count_colour(right, kRightGreen), 4 * 4 * 128);  // a frame 2 pixels wide around each
  EXPECT_EQ(count_colour(right, kWrongRed), 0);
  logits[1 * 4 + 1] = 0.f, logits[1 * 4 + 3] = 2.f;  // 90 taken for 270
  const Canvas one_wrong = draw_pretext_picture(PretextTask::Rotation, b, logits, "rotation, step 0", 1);
  EXPECT_GT(count_colour(one_wrong, kWrongRed), 4 * 128);
  const auto t = texts(one_wrong);
  for (const char* said : {"true 0", "true 90", "true 180", "true 270", "predicted 0", "predicted 180"})
    EXPECT_EQ(std::count(t.begin(), t.end(), said), 1) << said;
  EXPECT_EQ(std::count(t.begin(), t.end(), "predicted 270"), 2);
  EXPECT_EQ(std::count(t.begin(), t.end(), "predicted 90"), 0);
  for (const TextBox& box : one_wrong.text_boxes()) {  // all inside
    EXPECT_GE(box.x, 0) << box.text;
    EXPECT_LE(box.x + box.w, one_wrong.width()) << box.text;
    EXPECT_LE(box.y + box.h, one_wrong.height()) << box.text;
  }
  EXPECT_THROW(draw_pretext_picture(PretextTask::Rotation, b, std::vector<float>(15), "t"), std::invalid_argument);
}

// Inpainting: a one-pixel yellow frame around the masked square in each of the three panels.
TEST(PretextPictures, InpaintingFramesTheSquare) {
  constexpr int side = 32, mask = 16, scale = 2;
  std::vector<float> slices(2 * side * side);
  for (size_t i = 0; i < slices.size(); ++i) slices[i] = static_cast<float>(i % 29);
  Rng rng(4);
  const PretextBatch b = inpainting_batch(slices.data(), 2, side, mask, rng);
  const Canvas c = draw_pretext_picture(PretextTask::Inpainting, b, b.target, "inpainting, step 0", 1, scale);
  const int edge = mask * scale + 2;  // the outline just outside the square
  EXPECT_EQ(count_colour(c, kSquareYellow), 3 * (4 * edge - 4));
  EXPECT_THROW(draw_pretext_picture(PretextTask::Inpainting, b, std::vector<float>(side * side), "t"),
               std::invalid_argument);
}

}  // namespace
}  // namespace cs
