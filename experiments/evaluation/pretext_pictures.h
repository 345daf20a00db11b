#pragma once
// Pictures of the pretext tasks (docs/method.md §8, docs/tutorial.md): for a few held-out slices,
// what the network is given, what it should make of it, and what it makes of it. One row per slice:
//  - rotation: the slice in its four turns (0, 90, 180, 270 degrees), under each the true turn and
//    the predicted one (argmax of the logits), green and framed green when right, red when wrong;
//  - restoration: input (pairs of patches swapped), target (the original slice), output, and the
//    error abs(output - target) (black 0, white the row's grey range);
//  - inpainting: input (the square filled with the mean of the rest), target, output, the square
//    framed in each.
// Input, target and output of a row share one grey window, the target's (display_window).
#include <string>
#include <vector>

#include "experiments/batches.h"
#include "experiments/evaluation/pretext_probe.h"
#include "io/drawing/canvas.h"
#include "nn/unet.h"

namespace cs {

// The first `rows` slices of a task's batch (rotation: images 4k..4k+3 show slice k) with the
// network's output for it: the logits [images][4] (rotation) or the restored images
// [images][side][side]. Every pixel becomes a scale x scale block (0: as many as make a slice about
// 128 pixels wide). Throws std::invalid_argument when the sizes do not match the task.
Canvas draw_pretext_picture(PretextTask task, const PretextBatch& batch, const std::vector<float>& output,
                            const std::string& title, int rows = 3, int scale = 0);

// The same for the probe's held-out slices, the same ones at every step: the first `rows` slices
// of its batches, the network run as PretextProbe::read runs it (nothing of the model or of any
// random stream changes).
Canvas draw_pretext_picture(PretextProbe& probe, UNet& model, const std::string& title, int rows = 3, int scale = 0);
void write_pretext_picture(const std::string& path, PretextProbe& probe, UNet& model, const std::string& title,
                           int rows = 3, int scale = 0);

}  // namespace cs
