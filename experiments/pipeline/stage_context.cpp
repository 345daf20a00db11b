#include "experiments/pipeline/stage_context.h"

#include <stdexcept>

#include <fmt/format.h>

#include "experiments/pipeline/console.h"
#include "experiments/pipeline/stage_checks.h"
#include "experiments/pipeline/training.h"
#include "nn/checkpoint.h"

namespace cs {

namespace {

// Which weights come from the previous stage's run, and what that says (docs/method.md §1.8,
// §3.1, §4.1, §8.4); checks that the run was trained on the same data geometry.
struct Initialisation {
  bool from_run = false;
  CheckpointLoadOptions load;
  std::string description = "random initialisation";
};

Initialisation initialisation(Stage stage, const Settings& settings, const std::string& init) {
  Initialisation i;
  if (stage == Stage::Global) return i;
  if (stage == Stage::Pretext) {
    if (!init.empty())
      throw std::invalid_argument(fmt::format("pretrain-pretext starts from random initialisation, like "
                                              "pretrain-global; it takes no init run ({})",
                                              init));
    return i;
  }
  if (init.empty()) {
    if (stage == Stage::Local) throw std::invalid_argument("pretrain-local needs --init <pretrain-global run folder>");
    return i;
  }
  // Stage 2 trains the decoder on a frozen stage-1 encoder whose statistics it keeps (§3.1): a
  // pretext run is a baseline to compare with (§8), which fine-tuning starts from directly.
  if (stage == Stage::Local) {
    const StoredRun stored = read_stored_run(init);
    if (stored.stage == stage_name(Stage::Pretext))
      throw std::invalid_argument(fmt::format(
          "pretrain-local --init {}: a pretrain-pretext run (pretext.task = {}); pretrain-local trains the decoder "
          "on the frozen encoder of a pretrain-global run (docs/method.md §3.1). A pretext run initialises "
          "fine-tuning only: contraseg finetune --init {}",
          init, resolve_settings(stored.config).method(Stage::Pretext), init));
  }
  Stage from = Stage::Global;
  const Settings previous =
      stage == Stage::Local ? load_run_settings(init, {Stage::Global})
                            : load_run_settings(init, {Stage::Global, Stage::Local, Stage::Pretext}, "final", &from);
  check_init_matches(previous, settings, init);
  i.from_run = true;
  i.load.include = {"enc_"};
  i.description = "encoder from " + init;
  // Stage 2 keeps the encoder's BN statistics: paper mode normalises the frozen encoder with them
  // (§3.1). Fine-tuning starts its BN moving averages again (§4.1).
  i.load.buffers = stage == Stage::Local;
  if (from == Stage::Local) {
    for (const auto& p : decoder_block_prefixes(previous.local.blocks)) i.load.include.push_back(p);
    i.description = fmt::format("encoder + decoder blocks 1..{} from {}", previous.local.blocks, init);
  }
  // A pretext run hands on what its task trained of the U-Net (§8.4): the encoder (rotation), or
  // the encoder and all 5 decoder blocks (restoration, inpainting); never its head.
  if (from == Stage::Pretext) {
    const std::string task = previous.method(Stage::Pretext);
    i.description = fmt::format("encoder from {} (pretext task {})", init, task);
    if (previous.pretext.task != PretextTask::Rotation) {
      for (const auto& p : decoder_block_prefixes(5)) i.load.include.push_back(p);
      i.description = fmt::format("encoder + decoder blocks 1..5 from {} (pretext task {})", init, task);
    }
  }
  return i;
}

CaseList training_list(Stage stage, const Settings& settings, const DataSource& data) {
  if (stage != Stage::Finetune) return {"pre-training pool", data.splits().pretrain_pool(), false};
  const FinetuneSettings& f = settings.finetune;
  return {fmt::format("labelled set {} {}", f.labeled, f.comb), data.splits().labeled(f.labeled, f.comb), true};
}

}  // namespace

StageContext::StageContext(Stage stage_, const Settings& settings_, const StageOptions& options)
    : stage(stage_),
      settings(settings_),
      device(checked_device(settings_)),
      data(settings_),
      run(options.out, settings_, stage_, options.command_line, options.existing, options.init) {}

std::unique_ptr<StageContext> open_stage(Stage stage, const Settings& settings, const StageOptions& options,
                                         const MoreLists& more_lists) {
  apply_threads(settings);
  const Initialisation init = initialisation(stage, settings, options.init);
  auto c = std::make_unique<StageContext>(stage, settings, options);
  c->init_description = init.description;
  if (c->finished()) {
    say(fmt::format("{}: {} is finished; nothing to train", stage_name(stage), options.out));
    return c;
  }
  c->train_list = training_list(stage, settings, c->data);
  std::vector<CaseList> lists = {c->train_list};
  if (more_lists)
    for (CaseList& l : more_lists(c->data)) lists.push_back(std::move(l));
  c->data.check_lists(lists);
  const bool labels = c->train_list.labels;
  c->train = c->data.prepare(c->train_list.ids, labels, false, labels ? "labelled volumes" : "pre-training pool");
  c->stacks = stacks_of(c->train);
  c->model = make_model(settings, stage, c->device);
  if (init.from_run) load_checkpoint(checkpoint_path(options.init, "final"), c->model->params(), init.load);
  c->step = make_stage_step(stage, settings, *c->model, c->stacks);
  const std::string pool_name =
      stage == Stage::Finetune ? c->train_list.name : "pre-training pool of " + c->data.splits().path;
  check_stage_inputs(*c->step, settings, c->train, pool_name);
  return c;
}

}  // namespace cs
