#include "experiments/evaluation/inference.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "autograd/tape.h"
#include "experiments/evaluation/metrics.h"
#include "ops/ops.h"

namespace cs {

std::vector<float> predict_probabilities(UNet& model, const SliceStack& stack, int chunk) {
  NoGradGuard no_grad;
  const int h = stack.h, w = stack.w, C = model.config().num_classes;
  const Device d = model.params().device();
  std::vector<float> out(static_cast<size_t>(stack.z) * h * w * C);
  for (int z0 = 0; z0 < stack.z; z0 += chunk) {
    const int n = std::min(chunk, stack.z - z0);
    std::vector<float> imgs(stack.image.begin() + static_cast<size_t>(z0) * h * w,
                            stack.image.begin() + static_cast<size_t>(z0 + n) * h * w);
    Tensor x = Tensor::from_vector({n, h, w, 1}, imgs, d);
    const auto p = softmax(model.forward(x, RunMode::inference())).to_vector();
    std::copy(p.begin(), p.end(), out.begin() + static_cast<size_t>(z0) * h * w * C);
  }
  return out;
}

Volume predict_volume(UNet& model, const PreparedCase& c, const PreprocessParams& p) {
  if (c.native_image.nx == 0) throw std::logic_error("predict_volume: case " + c.id + " has no native image");
  return probabilities_to_labels(predict_probabilities(model, c.stack), model.config().num_classes,
                                 c.native_image, p);
}

std::vector<uint8_t> label_values(const Volume& v, int num_classes, const std::string& what) {
  std::vector<uint8_t> out(v.data.size());
  for (size_t i = 0; i < v.data.size(); ++i) {
    const float x = v.data[i];
    if (!(x >= 0) || x >= num_classes || x != std::floor(x))
      throw std::runtime_error(what + ": label value " + std::to_string(x) + " is not a class in 0.." +
                               std::to_string(num_classes - 1));
    out[i] = static_cast<uint8_t>(x);
  }
  return out;
}

CaseMetrics case_metrics(const std::string& id, const Volume& pred, const Volume& gt, int num_classes,
                         bool with_hd95) {
  if (pred.nx != gt.nx || pred.ny != gt.ny || pred.nz != gt.nz)
    throw std::runtime_error("case " + id + ": prediction and ground truth differ in size");
  CaseMetrics m;
  m.id = id;
  const auto p = label_values(pred, num_classes, "prediction of case " + id);
  const auto g = label_values(gt, num_classes, "ground truth of case " + id);
  m.dice = dice_per_class(p, g, num_classes);
  m.foreground_dice = nanmean(m.dice, 1);
  if (with_hd95) {
    m.hd95 = hd95_per_class(p, g, Grid3{gt.nx, gt.ny, gt.nz, gt.dx, gt.dy, gt.dz}, num_classes);
    m.foreground_hd95 = nanmean(m.hd95, 1);
  } else {
    m.hd95.assign(num_classes, std::nan(""));
    m.foreground_hd95 = std::nan("");
  }
  return m;
}

}  // namespace cs
