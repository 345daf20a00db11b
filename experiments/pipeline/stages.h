#pragma once
// The three stages of the method (docs/method.md §2-4), and the pretext-task pre-training it is
// compared with (§8), as library functions that the subcommands, `reproduce` and `demo` call. Each stage writes a run folder
// (experiments/pipeline/run_folder.h) and can resume a killed run from its latest checkpoint.
#include <string>
#include <vector>

#include "experiments/settings.h"
#include "experiments/pipeline/run_folder.h"

namespace cs {

struct StageOptions {
  std::string out;           // run folder
  std::string init;          // run folder of the previous stage ("" = none)
  Existing existing = Existing::Refuse;  // a run already in `out`: refuse, resume or overwrite
  std::string command_line;  // recorded in env.json
  bool quiet = false;        // no per-step log lines on stdout (still in log.txt)
};

// Stage 1: encoder + g1 with the global loss (G^R, G^D- or G^D), docs/method.md §2.
void run_pretrain_global(const Settings& settings, const StageOptions& opt);
// Stage 2: frozen encoder from a stage-1 run; decoder blocks 1..l + g2 with L^R or L^D, docs/method.md §3.
void run_pretrain_local(const Settings& settings, const StageOptions& opt);
// The pretext stage: from random initialisation, the encoder + rotation head (pretext.task =
// rotation) or the whole U-Net + a one-channel image head (restoration, inpainting) on the
// pre-training pool, docs/method.md §8. Fine-tuning can start from it.
void run_pretrain_pretext(const Settings& settings, const StageOptions& opt);

// Stage 3: the whole UNet with the Dice loss on finetune.labeled / finetune.comb, initialised from
// a pretrain-local run (encoder + blocks 1..l), a pretrain-global run (encoder), a pretrain-pretext
// run (rotation: the encoder; restoration, inpainting: encoder + blocks 1..5), or randomly (no
// init). Validation every finetune.val_every steps keeps the best checkpoint (docs/method.md §4.5). Then
// the best checkpoint is evaluated on the test cases into OUT/eval (run_evaluate), unless the
// folder holds that evaluation already; both under the run folder's lock.
void run_finetune(const Settings& settings, const StageOptions& opt);

}  // namespace cs
