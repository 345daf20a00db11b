#pragma once
// Inference on whole volumes (docs/method.md §7.1): slices through the network in chunks, softmax
// probabilities mapped back to the native grid, argmax, and the metrics of one case.
#include <string>
#include <vector>

#include "experiments/pipeline/data.h"
#include "nn/unet.h"

namespace cs {

// Softmax probabilities [z][h][w][C] of every slice of the case, BN in inference mode.
std::vector<float> predict_probabilities(UNet& model, const SliceStack& stack, int chunk = 20);

// Label volume in the native geometry of `native_image` (docs/method.md §7.1: uncrop, linear resize of the
// probabilities, argmax).
Volume predict_volume(UNet& model, const PreparedCase& c, const PreprocessParams& p);

// A label volume's voxels as class indices (validated to be integers in [0, num_classes)).
std::vector<uint8_t> label_values(const Volume& v, int num_classes, const std::string& what);

struct CaseMetrics {
  std::string id;
  std::vector<double> dice;  // per class, NaN where absent from both
  std::vector<double> hd95;  // per class, mm, NaN where undefined
  double foreground_dice = 0, foreground_hd95 = 0;
};
CaseMetrics case_metrics(const std::string& id, const Volume& pred, const Volume& gt, int num_classes,
                         bool with_hd95);

}  // namespace cs
