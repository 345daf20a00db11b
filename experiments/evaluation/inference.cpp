#include "experiments/evaluation/inference.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "autograd/tape.h"
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

}  // namespace cs
