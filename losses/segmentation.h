#pragma once
// Supervised segmentation losses of stage 3 (docs/method.md §4.2), each one fused op with the
// softmax inside. Kernels: losses/cpu/segmentation.cpp, losses/cuda/segmentation.cu.
//
// Soft Dice (dsc_loss=2 with background, the default; dsc_loss=1 without):
//   p = softmax(logits) over classes; per image n and class c
//     dice[n,c] = 2 sum_hw p*y / (sum_hw p + sum_hw y + 1e-10)
//   loss = 1 - mean over n and over classes c >= first (first = 0 with background, 1 without).
// Weighted cross-entropy (dsc_loss=0), per pixel weight w_pix = sum_c w_c y_c:
//   loss = mean over pixels of w_pix * ( -sum_c y_c log p_c ).
// Labels are one-hot or soft (after warping) [N,H,W,C].
#include <vector>

#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

constexpr float kDiceEps = 1e-10f;
constexpr int kMaxClasses = 32;

// logits, labels [N,H,W,C], 1 <= C <= kMaxClasses -> [1].
Tensor dice_loss(const Tensor& logits, const Tensor& labels, bool with_background = true);
// logits, labels [N,H,W,C], class_weights C values -> [1].
Tensor weighted_cross_entropy(const Tensor& logits, const Tensor& labels, const std::vector<float>& class_weights);
// The weights of docs/method.md §4.2: 4 classes [0.1, 0.3, 0.3, 0.3], 3 classes [0.1, 0.45, 0.45], 8 classes
// 0.09 then 0.13 each; throws for other class counts.
std::vector<float> default_class_weights(int num_classes);

// ---- kernels (conventions: ops/dispatch.h). logits, labels [N,H,W,C]; loss and dloss [1].

// sums [N,C,3] holds (sum p*y, sum p, sum y) per image and class.
// saved: logits, labels, sums.
using DiceForward = void(const Tensor& logits, const Tensor& labels, int first_class, Tensor& sums, Tensor& loss);
using DiceBackward = void(const Tensor& logits, const Tensor& labels, const Tensor& sums, int first_class,
                          const float* dloss, float* dlogits, float beta);
namespace cpu { DiceForward dice_forward; DiceBackward dice_backward; }
namespace cuda { DiceForward dice_forward; DiceBackward dice_backward; }

// weights [C].
// saved: logits, labels, weights.
using WeightedCeForward = void(const Tensor& logits, const Tensor& labels, const Tensor& weights, Tensor& loss);
using WeightedCeBackward = void(const Tensor& logits, const Tensor& labels, const Tensor& weights,
                                const float* dloss, float* dlogits, float beta);
namespace cpu { WeightedCeForward weighted_ce_forward; WeightedCeBackward weighted_ce_backward; }
namespace cuda { WeightedCeForward weighted_ce_forward; WeightedCeBackward weighted_ce_backward; }

}  // namespace cs
