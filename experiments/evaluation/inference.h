#pragma once
// Inference on whole volumes (docs/method.md §7.1): slices through the network in chunks, softmax
// probabilities mapped back to the native grid, argmax.
#include <string>
#include <vector>

#include "io/datasets/preprocess.h"
#include "nn/unet.h"

namespace cs {

// Softmax probabilities [z][h][w][C] of every slice of the case, BN in inference mode.
std::vector<float> predict_probabilities(UNet& model, const SliceStack& stack, int chunk = 20);

// Label volume in the native geometry of `native_image` (docs/method.md §7.1: uncrop, linear resize of the
// probabilities, argmax).
Volume predict_volume(UNet& model, const PreparedCase& c, const PreprocessParams& p);

}  // namespace cs
