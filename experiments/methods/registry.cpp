#include "experiments/methods/registry.h"

#include <stdexcept>
#include <string>

#include "experiments/methods/steps.h"

namespace cs {

const std::vector<Method>& methods() {
  static const std::vector<Method> all = {
      {"gr", Stage::Global, "G^R: NT-Xent between two views of each slice (docs/method.md §2.5)", "encoder + g1",
       make_global_contrastive_step},
      {"gd-", Stage::Global, "G^D-: partition-aware negatives, the other view as the only positive (§2.4)",
       "encoder + g1", make_global_contrastive_step},
      {"gd", Stage::Global, "G^D: same-partition slices of other volumes are positives too (§2.3)", "encoder + g1",
       make_global_contrastive_step},
      {"lr", Stage::Local, "L^R: each local region against the same region of the other view (§3.6)",
       "decoder blocks 1..l + g2", make_local_contrastive_step},
      {"ld", Stage::Local, "L^D: regions of same-partition slices of other volumes are positives too (§3.7)",
       "decoder blocks 1..l + g2", make_local_contrastive_step},
      {"rotation", Stage::Pretext, "predict a slice's turn, 0/90/180/270 degrees, with cross-entropy (§8.1)",
       "encoder + rot_pred", make_rotation_step},
      {"restoration", Stage::Pretext, "context restoration: undo swapped patch pairs, mean squared error (§8.2)",
       "encoder + decoder + rec_fin_layer", make_context_restoration_step},
      {"inpainting", Stage::Pretext, "fill a masked square, mean squared error inside it (§8.3)",
       "encoder + decoder + rec_fin_layer", make_inpainting_step},
      {"dice", Stage::Finetune, "Dice loss over all classes, background included (§4.2)", "the whole UNet",
       make_segmentation_step},
      {"dice_fg", Stage::Finetune, "Dice loss over the foreground classes (§4.2)", "the whole UNet", make_segmentation_step},
      {"wce", Stage::Finetune, "class-weighted cross-entropy (§4.2)", "the whole UNet", make_segmentation_step},
  };
  return all;
}

const char* method_key(Stage stage) {
  switch (stage) {
    case Stage::Global: return "global.loss";
    case Stage::Local: return "local.loss";
    case Stage::Finetune: return "finetune.loss";
    case Stage::Pretext: return "pretext.task";
  }
  return "?";
}

const Method& selected_method(Stage stage, const Settings& settings) {
  const std::string name = settings.method(stage);
  for (const Method& m : methods())
    if (m.stage == stage && name == m.name) return m;
  throw std::invalid_argument(std::string(method_key(stage)) + " = '" + name + "': no such method of stage " +
                              stage_name(stage) + " (contraseg methods lists them)");
}

}  // namespace cs
