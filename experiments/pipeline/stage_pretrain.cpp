// Stages 1 and 2: global contrastive pre-training of the encoder (docs/method.md §2) and local
// contrastive pre-training of the first l decoder blocks on the frozen encoder (§3). The steps
// themselves are in stage_step.cpp.
#include <cstdio>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "experiments/evaluation/local_probe.h"
#include "experiments/evaluation/probes.h"
#include "experiments/evaluation/similarity_pictures.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/stage_checks.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"
#include "nn/checkpoint.h"

namespace cs {
namespace {

// What the rows of the stage-1 similarity matrix are.
std::string similarity_caption(const Config& cfg) {
  const std::string loss = cfg.str("global.loss");
  if (cfg.str("compat") == "paper" && loss != "gr")
    return "row (v x S + s) x 2 + view: volume v, partition s, view 0 the slice, view 1 its augmented view";
  return "row i: image i of the batch, in the loss's order (docs/method.md section 2)";
}

}  // namespace

namespace {

// The pre-training pool, checked and loaded, and the list of a held-out probe when it has one.
CaseList pool_list(const DataSource& data) {
  return {"pre-training pool", data.splits().pretrain_pool(), false};
}
CaseList probe_list(const DataSource& data, const std::string& key, bool labels) {
  return {"test set (the held-out volumes of " + key + ")", data.splits().test(), labels};
}

}  // namespace

void run_pretrain_global(const Config& cfg, const StageOptions& opt) {
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  DataSource data(cfg);
  RunFolder run(opt.out, cfg, "pretrain-global", opt.command_line, opt.existing);
  if (run.finished()) {
    say(fmt::format("pretrain-global: {} is finished; nothing to train", opt.out));
    return;
  }
  // Everything the stage reads is checked before the folder is written (stage_checks.h).
  const int knn_every = cfg.integer("global.knn_every"), S = cfg.integer("global.partitions");
  std::vector<CaseList> lists = {pool_list(data)};
  if (knn_every > 0) lists.push_back(probe_list(data, "global.knn_every", false));
  data.check_lists(lists);
  const auto pool = data.prepare(data.splits().pretrain_pool(), false, false, "pre-training pool");
  const auto stacks = stacks_of(pool);
  // The k-NN probe: do the embeddings of volumes the stage never saw tell their partitions apart?
  std::vector<SliceStack> held_out;
  if (knn_every > 0) {
    held_out = stacks_of(data.prepare(data.splits().test(), false, false, "held-out volumes"));
    if (held_out.size() < 2)
      throw std::invalid_argument(fmt::format("global.knn_every: the k-NN probe needs at least 2 test volumes, the "
                                              "split has {}; set global.knn_every=0", held_out.size()));
    for (size_t v = 0; v < held_out.size(); ++v)
      if (held_out[v].z < S)
        throw std::invalid_argument(fmt::format("global.knn_every: test volume {} has {} slices, fewer than the {} "
                                                "partitions; set global.knn_every=0",
                                                data.splits().test()[v], held_out[v].z, S));
  }
  auto model = make_model(cfg, Stage::Global, dev);
  const auto step = make_stage_step(Stage::Global, cfg, *model, stacks);
  check_stage_inputs(*step, cfg, pool, "pre-training pool of " + data.splits().path);
  run.start();
  run.logging_errors([&] {
    run.log_line(
        fmt::format("pretrain-global: {}, {} iterations", step->description(), cfg.integer("global.iterations")),
        !console_quiet());
    const int iterations = cfg.integer("global.iterations");
    auto probe = [&](int steps_done) {
      const auto embedded = partition_embeddings(*model, held_out, S);  // one forward pass for both
      run.log_line(fmt::format("knn step {} partition_accuracy {:.3f} chance {:.3f} volumes {}", steps_done,
                               knn_accuracy(embedded, S), 1.0 / S, held_out.size()),
                   !opt.quiet);
      if (steps_done == 0 || steps_done == iterations) {  // before and after: the pictures of the tutorial
        make_dirs(run.path("pictures"));
        write_partition_pca_png(run.path(fmt::format("pictures/embeddings_step{}.png", steps_done)), embedded, S,
                                fmt::format("g1 embeddings of held-out volumes, step {}", steps_done));
        const auto rows = step->contrast_rows(step->sample(0));  // always the first batch
        write_similarity_matrix_png(run.path(fmt::format("pictures/similarity_step{}.png", steps_done)), rows.z,
                                    *rows.spec,
                                    fmt::format("cosine similarity of the first batch, step {}", steps_done),
                                    similarity_caption(cfg));
      }
    };
    if (knn_every > 0 && !run.resuming()) probe(0);
    run_loop(cfg, run, *step, {iterations, [&](int s) { probe(s + 1); }, knn_every}, run.resuming(), opt.quiet);
    run.log_line("pretrain-global: done, " + run.checkpoint("final"));
  });
}

void run_pretrain_local(const Config& cfg, const StageOptions& opt) {
  apply_threads(cfg);
  const Device dev = config_device(cfg);
  if (opt.init.empty()) throw std::invalid_argument("pretrain-local needs --init <pretrain-global run folder>");
  check_init_matches(load_run_config(opt.init, {"pretrain-global"}), cfg, opt.init);
  DataSource data(cfg);
  RunFolder run(opt.out, cfg, "pretrain-local", opt.command_line, opt.existing, opt.init);
  if (run.finished()) {
    say(fmt::format("pretrain-local: {} is finished; nothing to train", opt.out));
    return;
  }
  const int every = cfg.integer("local.retrieval_every");
  std::vector<CaseList> lists = {pool_list(data)};
  if (every > 0) lists.push_back(probe_list(data, "local.retrieval_every", true));
  data.check_lists(lists);
  const auto pool = data.prepare(data.splits().pretrain_pool(), false, false, "pre-training pool");
  const auto stacks = stacks_of(pool);
  // The retrieval probe: on view pairs of volumes the stage never saw, do the decoder's region
  // vectors find the same region in the other view, and its features the same structure in other
  // slices?
  std::optional<LocalProbe> probe;
  if (every > 0) {
    const auto held_out = stacks_of(data.prepare(data.splits().test(), true, false, "held-out volumes"));
    probe.emplace(held_out, local_options(cfg), cfg.integer("local.batch"), cfg.integer("local.blocks"),
                  cfg.integer("image_size"), Rng(static_cast<uint64_t>(cfg.integer("seed"))).split("local-probe"), dev,
                  data.params().class_names);
  }
  auto model = make_model(cfg, Stage::Local, dev);
  // The encoder comes from stage 1 (the step freezes it). Its BN statistics are loaded too: paper
  // mode normalises the frozen encoder with them (docs/method.md §3.1).
  CheckpointLoadOptions lo;
  lo.include = {"enc_"};
  lo.buffers = true;
  load_checkpoint(checkpoint_path(opt.init, "final"), model->params(), lo);
  const auto step = make_stage_step(Stage::Local, cfg, *model, stacks);
  check_stage_inputs(*step, cfg, pool, "pre-training pool of " + data.splits().path);
  run.start();
  run.logging_errors([&] {
    const int iterations = cfg.integer("local.iterations");
    run.log_line(fmt::format("pretrain-local: {}, {} iterations", step->description(), iterations), !console_quiet());
    auto observe = [&](int steps_done) {
      const bool picture = steps_done == 0 || steps_done == iterations;  // before and after, for the tutorial
      if (picture) make_dirs(run.path("pictures"));
      const std::string maps = picture ? run.path(fmt::format("pictures/similarity_maps_step{}.png", steps_done)) : "";
      const LocalProbeReading r = probe->read(*model, local_encoder_mode(parse_compat(cfg.str("compat"))), maps,
                                              fmt::format("g2 features of a held-out slice, step {}", steps_done));
      run.log_line(fmt::format("retrieval step {} region_accuracy {:.3f} chance {:.3f} class_accuracy {:.3f} chance "
                               "{:.3f} pairs {}",
                               steps_done, r.region, 1.0 / r.positions, r.class_match, r.class_chance, probe->pairs()),
                   !opt.quiet);
    };
    if (probe && !run.resuming()) observe(0);
    run_loop(cfg, run, *step, {iterations, [&](int s) { observe(s + 1); }, every}, run.resuming(), opt.quiet);
    run.log_line("pretrain-local: done, " + run.checkpoint("final"));
  });
}

}  // namespace cs
