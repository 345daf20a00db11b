// Differentiable wrappers of the segmentation losses (losses/segmentation.h): input checks, then
// each forward kernel and tape node through record_op.
#include "losses/segmentation.h"

#include <stdexcept>
#include <string>

#include "autograd/record_op.h"
#include "ops/dispatch.h"

namespace cs {

namespace {
void check_seg_inputs(const Tensor& logits, const Tensor& labels, const char* op) {
  check_ndim(logits, 4, op, "logits [N,H,W,C]");
  check_shape(labels, logits.shape(), op, "labels [N,H,W,C]");
  check_same_device(logits, labels, op);
  if (logits.dim(3) < 1 || logits.dim(3) > kMaxClasses)
    throw std::invalid_argument(std::string(op) + ": 1.." + std::to_string(kMaxClasses) + " classes supported, got " +
                                std::to_string(logits.dim(3)));
  if (labels.requires_grad())
    throw std::invalid_argument(std::string(op) + ": labels are constants (no gradient is computed for them)");
}
}  // namespace

Tensor dice_loss(const Tensor& logits, const Tensor& labels, bool with_background) {
  check_seg_inputs(logits, labels, "dice_loss");
  const int first = with_background ? 0 : 1;
  if (first >= logits.dim(3))
    throw std::invalid_argument("dice_loss: no foreground class to average over (C = 1 without background)");
  const Device dev = logits.device();
  Tensor sums = Tensor::empty({logits.dim(0), logits.dim(3), 3}, dev);
  Tensor loss = Tensor::empty({1}, dev);
  return record_op(
      {"dice_loss", 8.0 * logits.numel(), 12.0 * logits.numel()}, {logits}, loss,
      [&] { CS_DISPATCH(dev, dice_forward, logits, labels, first, sums, loss); },
      [logits, labels, sums, first](const Tensor& dloss) {
        const GradOut dx = grad_out(logits);
        CS_DISPATCH(logits.device(), dice_backward, logits, labels, sums, first, dloss.data(), dx.ptr, dx.beta);
      });
}

std::vector<float> default_class_weights(int num_classes) {
  switch (num_classes) {
    case 4: return {0.1f, 0.3f, 0.3f, 0.3f};
    case 3: return {0.1f, 0.45f, 0.45f};
    case 8: return {0.09f, 0.13f, 0.13f, 0.13f, 0.13f, 0.13f, 0.13f, 0.13f};
  }
  throw std::invalid_argument("default_class_weights: docs/method.md §4.2 gives weights for 3, 4 or 8 classes, not " +
                              std::to_string(num_classes));
}

Tensor weighted_cross_entropy(const Tensor& logits, const Tensor& labels, const std::vector<float>& class_weights) {
  check_seg_inputs(logits, labels, "weighted_cross_entropy");
  if (static_cast<int64_t>(class_weights.size()) != logits.dim(3))
    throw std::invalid_argument("weighted_cross_entropy: " + std::to_string(class_weights.size()) +
                                " class weights for " + std::to_string(logits.dim(3)) + " classes");
  const Device dev = logits.device();
  Tensor w = Tensor::from_vector({logits.dim(3)}, class_weights, dev);
  Tensor loss = Tensor::empty({1}, dev);
  return record_op(
      {"weighted_cross_entropy", 6.0 * logits.numel(), 8.0 * logits.numel()}, {logits}, loss,
      [&] { CS_DISPATCH(dev, weighted_ce_forward, logits, labels, w, loss); },
      [logits, labels, w](const Tensor& dloss) {
        const GradOut dx = grad_out(logits);
        CS_DISPATCH(logits.device(), weighted_ce_backward, logits, labels, w, dloss.data(), dx.ptr, dx.beta);
      });
}

}  // namespace cs
