// The pre-training stages: global contrastive pre-training of the encoder (docs/method.md §2), local
// contrastive pre-training of the first l decoder blocks on the frozen encoder (§3), and the
// pretext-task pre-training they are compared with (§8). The steps themselves are the methods'
// (experiments/methods/).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "experiments/evaluation/local_probe.h"
#include "experiments/evaluation/pretext_pictures.h"
#include "experiments/evaluation/pretext_probe.h"
#include "experiments/evaluation/probe_reading.h"
#include "experiments/evaluation/probes.h"
#include "experiments/evaluation/similarity_pictures.h"
#include "experiments/pipeline/console.h"
#include "experiments/pipeline/stage_context.h"
#include "experiments/pipeline/stages.h"
#include "experiments/pipeline/training.h"

namespace cs {
namespace {

// What the rows of the stage-1 similarity matrix are.
std::string similarity_caption(const Settings& settings) {
  if (settings.run.compat == Compat::Paper && settings.global.loss != GlobalLossKind::GR)
    return "row (v x S + s) x 2 + view: volume v, partition s, view 0 the slice, view 1 its augmented view";
  return "row i: image i of the batch, in the loss's order (docs/method.md section 2)";
}

// The list of a held-out probe run every `every` steps (none when 0): the test set, which no stage
// trains on; `key` names the setting in messages.
MoreLists probe_lists(int every, const std::string& key, bool labels) {
  return [=](const DataSource& data) {
    if (every <= 0) return std::vector<CaseList>{};
    return std::vector<CaseList>{{"test set (the held-out volumes of " + key + ")", data.splits().test(), labels}};
  };
}

// "k-NN partition accuracy" -> "k-nn_partition_accuracy": a TensorBoard tag.
std::string tag_name(std::string name) {
  for (char& ch : name) ch = ch == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name;
}

// The pictures a probe drew after `steps` steps (pictures/NAME_stepN.png) into the event file, as NAME.
void send_pictures(RunFolder& run, int steps) {
  namespace fs = std::filesystem;
  const std::string suffix = fmt::format("_step{}.png", steps);
  std::error_code ec;
  std::vector<fs::path> pictures;
  for (const auto& e : fs::directory_iterator(run.path("pictures"), ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      pictures.push_back(e.path());
  }
  std::sort(pictures.begin(), pictures.end());  // a fixed order, whatever the file system's
  for (const auto& p : pictures) {
    const std::string name = p.filename().string();
    run.picture("pictures/" + name.substr(0, name.size() - suffix.size()), steps, p.string());
  }
}

// A probe reads the held-out measures of a stage after `steps` steps.
using Probe = std::function<std::vector<ProbeReading>(int steps)>;

// What every pre-training stage does once its context is open: the header line, `intro` (the
// probe's description, if any), the held-out probe before the first step (unless resuming) and
// every `every` steps after it (none when 0), the steps, the final checkpoint, and the probe's last
// readings in probe.json, with `nothing_learned` (the likely reason) when they say that the stage
// learned nothing (probe_reading.h); errors go to the log.
void train_stage(const Settings& settings, const StageOptions& opt, StageContext& c, const char* name, int iterations,
                 int every, const Probe& probe, const std::string& nothing_learned,
                 const std::function<void()>& intro = {}) {
  RunFolder& run = c.run;
  StageStep& step = *c.step;
  std::vector<ProbeReading> last;
  const auto read = [&](int steps) {
    last = probe(steps);
    for (const auto& r : last) run.scalar("probe/" + tag_name(r.name), steps, r.value);
    send_pictures(run, steps);
  };
  run.start();
  run.logging_errors([&] {
    run.log_line(fmt::format("{}: {}, {} iterations", name, step.description(), iterations), !console_quiet());
    if (intro) intro();
    if (every > 0 && !run.resuming()) read(0);
    run_loop(settings, run, step, {iterations, [&](int s) { read(s + 1); }, every}, run.resuming(), opt.quiet);
    if (!last.empty()) {
      ProbeRecord record{last, learned_nothing(last) ? nothing_learned : ""};
      const int steps = last.front().step;
      if (!record.nothing_learned.empty())
        run.log_line(fmt::format("{}: warning: held-out {} after {} step{}: this pre-training learned nothing that "
                                 "transfers; likely {}",
                                 name, describe(last), steps, steps == 1 ? "" : "s", record.nothing_learned));
      write_probe_record(run.path("probe.json"), record);
    }
    run.log_line(fmt::format("{}: done, {}", name, run.checkpoint("final")));
  });
}

}  // namespace

void run_pretrain_global(const Settings& settings, const StageOptions& opt) {
  const int knn_every = settings.global.knn_every, S = settings.global.partitions;
  const auto c = open_stage(Stage::Global, settings, opt, probe_lists(knn_every, "global.knn_every", false));
  if (c->finished()) return;
  DataSource& data = c->data;
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
  RunFolder& run = c->run;
  UNet& model = *c->model;
  StageStep& step = *c->step;
  const int iterations = settings.global.iterations;
  auto probe = [&](int steps_done) {
    const auto embedded = partition_embeddings(model, held_out, S);  // one forward pass for both
    const ProbeReading knn{"k-NN partition accuracy", knn_accuracy(embedded, S), 1.0 / S, true,
                           static_cast<int>(embedded.size()), steps_done};
    run.log_line(fmt::format("knn step {} partition_accuracy {:.3f} chance {:.3f} volumes {}", steps_done, knn.value,
                             knn.baseline, held_out.size()),
                 !opt.quiet);
    if (steps_done == 0 || steps_done == iterations) {  // before and after: the pictures of the tutorial
      make_dirs(run.path("pictures"));
      write_partition_pca_png(run.path(fmt::format("pictures/embeddings_step{}.png", steps_done)), embedded, S,
                              fmt::format("g1 embeddings of held-out volumes, step {}", steps_done));
      const auto rows = step.contrast_rows(step.sample(0));  // always the first batch
      write_similarity_matrix_png(run.path(fmt::format("pictures/similarity_step{}.png", steps_done)), rows.z,
                                  *rows.spec, fmt::format("cosine similarity of the first batch, step {}", steps_done),
                                  similarity_caption(settings));
    }
    return std::vector<ProbeReading>{knn};
  };
  const std::string reason =
      settings.global.loss == GlobalLossKind::GR
          ? "the g1 embeddings of held-out slices carry no position in the volume: G^R only tells a slice from "
            "the others, and these volumes may show nothing that locates a slice"
          : "a premise of G^D fails on these volumes: partition s of every volume must show the same anatomy "
            "(volumes aligned alike, as the method's datasets are) and the pool must hold enough volumes; check "
            "the volumes' orientation and the pool's size, or use G^R";
  train_stage(settings, opt, *c, "pretrain-global", iterations, knn_every, probe, reason);
}

void run_pretrain_local(const Settings& settings, const StageOptions& opt) {
  const int every = settings.local.retrieval_every;
  const auto c = open_stage(Stage::Local, settings, opt, probe_lists(every, "local.retrieval_every", true));
  if (c->finished()) return;
  DataSource& data = c->data;
  // The retrieval probe: on view pairs of volumes the stage never saw, do the decoder's region
  // vectors find the same region in the other view, and its features the same structure in other
  // slices?
  std::optional<LocalProbe> probe;
  if (every > 0) {
    const auto held_out = stacks_of(data.prepare(data.splits().test(), true, false, "held-out volumes"));
    probe.emplace(held_out, local_options(settings), settings.local.batch, settings.local.blocks,
                  settings.data.params.out_h, Rng(static_cast<uint64_t>(settings.run.seed)).split("local-probe"),
                  c->device, data.params().class_names);
  }
  RunFolder& run = c->run;
  UNet& model = *c->model;
  const int iterations = settings.local.iterations;
  auto observe = [&](int steps_done) {
    const bool picture = steps_done == 0 || steps_done == iterations;  // before and after, for the tutorial
    if (picture) make_dirs(run.path("pictures"));
    const std::string maps = picture ? run.path(fmt::format("pictures/similarity_maps_step{}.png", steps_done)) : "";
    const LocalProbeReading r = probe->read(model, local_encoder_mode(settings.run.compat), maps,
                                            fmt::format("g2 features of a held-out slice, step {}", steps_done));
    run.log_line(fmt::format("retrieval step {} region_accuracy {:.3f} chance {:.3f} class_accuracy {:.3f} chance "
                             "{:.3f} pairs {}",
                             steps_done, r.region, 1.0 / r.positions, r.class_match, r.class_chance, probe->pairs()),
                 !opt.quiet);
    // Each pair scores its regions in both directions; counted once per view, to stay on the safe side.
    return std::vector<ProbeReading>{
        {"region retrieval accuracy", r.region, 1.0 / r.positions, true, 2 * probe->pairs(), steps_done},
        {"class retrieval accuracy", r.class_match, r.class_chance, true, 2 * probe->pairs(), steps_done}};
  };
  train_stage(settings, opt, *c, "pretrain-local", iterations, every, observe,
              "the decoder's region vectors do not find a region in the other view of its slice: too few steps, "
              "or a global pre-training that learned nothing to build on");
}

void run_pretrain_pretext(const Settings& settings, const StageOptions& opt) {
  const int every = settings.pretext.probe_every;
  const auto c = open_stage(Stage::Pretext, settings, opt, probe_lists(every, "pretext.probe_every", false));
  if (c->finished()) return;
  DataSource& data = c->data;
  // The probe: on slices of volumes the stage never saw, does the network solve its task better
  // than chance, or than leaving the corrupted slice as it is?
  std::optional<PretextProbe> probe;
  if (every > 0)
    probe.emplace(stacks_of(data.prepare(data.splits().test(), false, false, "held-out volumes")), settings,
                  Rng(static_cast<uint64_t>(settings.run.seed)).split("pretext-probe"), c->device);
  RunFolder& run = c->run;
  UNet& model = *c->model;
  const bool rotation = settings.pretext.task == PretextTask::Rotation;
  auto intro = [&] {
    if (!probe) return;
    run.log_line(rotation ? fmt::format("probe: the turn predicted for 4 x {} held-out slices", probe->slices())
                          : fmt::format("probe: the mean squared error over {} of {} held-out slices, against the "
                                        "corrupted input's",
                                        settings.pretext.task == PretextTask::Inpainting ? "the masked squares"
                                                                                         : "every pixel",
                                        probe->slices()),
                 !opt.quiet);
  };
  auto observe = [&](int steps_done) {
    const PretextProbeReading r = probe->read(model);
    run.log_line(rotation ? fmt::format("probe step {} rotation_accuracy {:.3f} chance {:.3f} slices {}", steps_done,
                                        r.score, r.reference, probe->slices())
                          : fmt::format("probe step {} reconstruction_mse {:.6f} corrupted_mse {:.6f} slices {}",
                                        steps_done, r.score, r.reference, probe->slices()),
                 !opt.quiet);
    if (steps_done == 0 || steps_done == settings.pretext.iterations) {  // before and after, for the tutorial
      make_dirs(run.path("pictures"));
      write_pretext_picture(run.path(fmt::format("pictures/pretext_step{}.png", steps_done)), *probe, model,
                            fmt::format("{}, step {}", pretext_task_name(settings.pretext.task), steps_done));
    }
    return std::vector<ProbeReading>{rotation ? ProbeReading{"rotation accuracy", r.score, r.reference, true,
                                                             4 * probe->slices(), steps_done}
                                              : ProbeReading{"reconstruction error", r.score, r.reference, false, 0,
                                                             steps_done}};
  };
  const std::string reason =
      rotation ? "a slice's turn is not told from its content: slices that look alike in every turn, or too few steps"
               : "the network's output is no closer to the original than its corrupted input: too few steps";
  train_stage(settings, opt, *c, "pretrain-pretext", settings.pretext.iterations, every, observe, reason, intro);
}

}  // namespace cs
