#pragma once
// Global contrastive losses of stage 1 (docs/method.md §2): G^R, G^{D-} and G^D, in the two modes
// of docs/method.md §5.
//
// A loss is two parts:
//  1. a batch layout (losses/slot_layout.h, slot_layout(kind, mode, ...)): for every row of the
//     embedding matrix (every image of the batch), its volume, partition, view and whether it is
//     an all-zero slot;
//  2. a ContrastSpec built from it: the (anchor, positive) terms with their weights and the
//     negative rule, evaluated by the fused op ntxent_loss (ops/similarity.h).
// The same term lists feed the tests and the pictures (`contraseg draw`).
//
// paper mode (default): V volumes x S partitions x 2 views of real images, row
//   ((v * S) + s) * 2 + view. G^D: the positives of an anchor are its other view and every image
//   of the same partition in the other volumes (both views); negatives are all images of the other
//   partitions. G^{D-}: the only positive is the other view; negatives as in G^D (same-partition
//   images of other volumes are neither). G^R: standard NT-Xent over 2N views of N slices, rows
//   (2k, 2k+1). Every (anchor, positive) pair is one term; the loss is the mean over terms.
// reference mode: the exact slots and pair lists of the released code (docs/method.md §2.5-2.7): 36 slots
//   for G^{D-} (/36), 48 slots of which 16 are zero for G^D (192 terms, /48), 2N interleaved views
//   for G^R (/2N); negatives are slots whose index mod 4 differs from the anchor's; every pair
//   gives two directed terms and the reverse term keeps the anchor's negative index set.
#include <string>
#include <vector>

#include "autograd/compat.h"
#include "losses/slot_layout.h"
#include "ops/similarity.h"

namespace cs {

enum class GlobalLossKind { GR, GDMinus, GD };

GlobalLossKind parse_global_loss(const std::string& s);  // "gr" | "gd-" | "gd" (also "0", "1", "2")
const char* global_loss_name(GlobalLossKind k);          // "G^R", "G^D-", "G^D"

// The terms and negative rule of one loss over `layout` (see the header comment). Throws
// std::invalid_argument when the layout does not fit the kind/mode (a zero slot in paper mode,
// a reference layout of the wrong size, a G^R row without its partner view).
ContrastSpec global_contrast_spec(GlobalLossKind kind, Compat mode, const SlotLayout& layout);

// The loss object for training: builds the spec and the plan once, then maps embeddings
// z [rows, D] (the g1 outputs, one row per slot) to the scalar loss [1]. Its layout() is the one
// the stage step draws and renders its batch into (experiments/batches.h).
class GlobalContrastiveLoss {
 public:
  GlobalContrastiveLoss(GlobalLossKind kind, Compat mode, SlotLayout layout, float tau = 0.1f,
                        Device device = Device::CPU);
  Tensor operator()(const Tensor& z) const;

  GlobalLossKind kind() const { return kind_; }
  Compat mode() const { return mode_; }
  float tau() const { return tau_; }
  const SlotLayout& layout() const { return layout_; }
  const ContrastPlan& plan() const { return plan_; }
  const ContrastSpec& spec() const { return plan_.spec(); }

 private:
  GlobalLossKind kind_;
  Compat mode_;
  SlotLayout layout_;
  float tau_;
  ContrastPlan plan_;
};

}  // namespace cs
