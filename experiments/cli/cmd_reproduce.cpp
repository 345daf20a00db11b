// Subcommands reproduce (a whole results table) and demo (the same protocol at reduced scale on
// a synthetic phantom dataset, on the CPU).
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "demo_config.h"  // generated from experiments/configs/demo.json
#include "experiments/cli/cli.h"
#include "experiments/pipeline/data.h"
#include "experiments/pipeline/synth_dataset.h"
#include "experiments/pipeline/folder_lock.h"
#include "experiments/pipeline/gpu_pool.h"
#include "experiments/pipeline/reproduce.h"
#include "experiments/pipeline/run_folder.h"
#include "experiments/pipeline/slurm_grid.h"

namespace cs {
namespace {

CommandSpec reproduce_spec() {
  return {"reproduce", "the whole protocol for a dataset and its results table",
          "contraseg reproduce --config CFG --data DIR --out DIR [--table NAME|ROWS] [--set KEY=VALUE]...\n"
          "       [--executor slurm [slurm options]] [--gpus LIST]\n"
          "       contraseg reproduce --out DIR --status [--wait]",
          "The whole protocol for the rows of a table (reproduce.rows, or --table): each row's pre-training,\n"
          "once however many rows share it, then fine-tuning from every row for every labelled set and\n"
          "combination of reproduce.labeled / reproduce.combs, each evaluated on the test cases. Writes\n"
          "DIR/results.md and DIR/results.csv (for a preset, DIR/results-PRESET.md and .csv), with each\n"
          "row's held-out pre-training probe beside its Dice and a per-class table.\n"
          "Presets: paper-main (random, G^D + L^R), paper-ablation (G^R, G^D-, G^D, with L^R or L^D, and\n"
          "the decoder depth l of L^R), paper-comparison (rotation, context restoration, inpainting, G^R,\n"
          "G^D + L^R). Rows: random | gr | gd- | gd | GLOBAL+lr|ld[@lN] | rotation | restoration | inpainting.\n"
          "Re-running on the same DIR skips finished parts and resumes a killed one; tables run into one\n"
          "DIR share their runs.\n"
          "--executor slurm writes DIR/slurm/<table>/: an sbatch script per pre-training, a job array of the\n"
          "fine-tuning runs and a table job, chained with afterok, and submits what is not finished\n"
          "(docs/cluster.md). --status prints the state of every task of the grids submitted into DIR.\n"
          "--gpus 0,1 trains on this machine's GPUs, a run per GPU at a time (device = cuda).\n"
          "On SIGTERM or SIGUSR1 a run saves a checkpoint and the command exits with status 75 (requeue).\n",
          {config_option("JSON config (experiments/configs/*.json)"), set_option(), data_option(),
           option("out", "DIR", "folder of the runs and the table"), table_option(), device_option(),
           verbose_option(),
           choice("executor", {"local", "slurm"}, "where the runs train: this machine (default) or Slurm jobs"),
           option("gpus", "LIST", "local: train on these GPUs (0,1,... or all), one run per GPU at a time"),
           option("partition", "NAME", "slurm: the partition of every job"),
           option("account", "NAME", "slurm: the account of every job"),
           option("time", "D-HH:MM:SS", "slurm: each job's time limit (a run near it checkpoints and requeues)"),
           option("gpus-per-task", "N", "slurm: --gres=gpu:N for each training job (default 0)"),
           option("cpus-per-task", "N", "slurm: CPU threads of each training job (default 1)"),
           option("array-limit", "N", "slurm: at most N fine-tuning jobs at once (default: no limit)"),
           repeatable("sbatch-line", "LINE", "slurm: one more #SBATCH line in every script, e.g. --qos=normal"),
           flag("dry-run", "slurm: write the scripts and print the sbatch commands, submit nothing"),
           flag("wait", "slurm, --status: return when the grid's jobs have left the queue, with its status"),
           flag("status", "the state of the grids submitted into --out (only --out is needed)"),
           option("task", "ID", "run one task of the grid: pretrain:NAME, finetune:I or table (the jobs run this)")}};
}

int cmd_reproduce(const Args& a) {
  if (a.flag("status")) {
    for (const auto& o : a.spec().options)
      if (o.name != "status" && o.name != "out" && o.name != "wait" && (a.has(o.name) || a.flag(o.name)))
        throw UsageError("--status reads the grid's folder: it takes only --out and --wait, not --" + o.name);
    return grid_status(a.require("out"), a.flag("wait"));
  }
  a.require("config");
  const bool slurm = a.get("executor", "local") == "slurm";
  for (const char* key : {"partition", "account", "time", "gpus-per-task", "cpus-per-task", "array-limit",
                          "sbatch-line", "dry-run", "wait"})
    if (!slurm && (a.has(key) || a.flag(key)))
      throw UsageError(fmt::format("--{} is an option of --executor slurm", key));
  if (a.has("task") && a.has("gpus")) throw UsageError("--task runs one task here, on the visible GPU; leave out --gpus");
  if (slurm && (a.has("task") || a.has("gpus")))
    throw UsageError(fmt::format("--{} is an option of the local executor; leave out --executor slurm",
                                 a.has("task") ? "task" : "gpus"));
  const Settings settings = resolve_settings(resolve_config(a));
  ReproduceOptions opt{a.require("out"), a.command_line(), !a.flag("verbose")};
  if (a.has("task")) {
    run_reproduce_task(settings, opt, a.get("task", ""));
    return 0;
  }
  if (a.has("gpus")) {
    const auto gpus = parse_gpu_list(a.get("gpus", ""));
    std::printf("\n%s", run_reproduce_on_gpus(settings, opt, gpus).c_str());
    return 0;
  }
  if (slurm) {
    SlurmOptions s;
    s.partition = a.get("partition", "");
    s.account = a.get("account", "");
    s.time = a.get("time", "");
    s.gpus_per_task = a.get_int("gpus-per-task", 0);
    s.cpus_per_task = a.get_int("cpus-per-task", 1);
    s.array_limit = a.get_int("array-limit", 0);
    if (s.gpus_per_task < 0 || s.cpus_per_task < 1 || s.array_limit < 0)
      throw UsageError("--gpus-per-task and --array-limit take 0 or more, --cpus-per-task 1 or more");
    s.sbatch_lines = a.all("sbatch-line");
    s.dry_run = a.flag("dry-run");
    s.wait = a.flag("wait");
    return submit_grid(settings, opt, s);
  }
  std::printf("reproduce: resolved config\n%s", settings.config.to_text().c_str());
  std::printf("\n%s", run_reproduce(settings, opt).c_str());
  return 0;
}

CommandSpec demo_spec() {
  return {"demo", "the protocol at reduced scale on synthetic phantoms (CPU)",
          "contraseg demo [--data DIR] [--out DIR] [--table NAME|ROWS] [--set KEY=VALUE]...",
          "Runs the reproduce protocol at reduced scale on the CPU: stage 1 (G^D), stage 2 (L^R), and\n"
          "fine-tuning on 1 and 2 labelled volumes from random init, G^D and G^D + L^R, then prints the\n"
          "results table; --table paper-comparison or paper-ablation runs that table's rows instead\n"
          "(into the same OUT, sharing the runs they have in common). Without --data it first synthesises a cardiac phantom dataset\n"
          "and its split into OUT/data (as contraseg synth); with --data it uses your ACDC-layout folder\n"
          "and its splits.json, or, when it has none, a split derived from its cases (OUT/splits.json,\n"
          "as contraseg split).\n",
          {data_option("an ACDC-layout dataset (default: synthesise one)"),
           option("out", "DIR", "folder of the runs and the table (default runs/demo)"),
           option("patients", "N", "phantom patients to synthesise (default 20)"),
           table_option(), set_option("override one key of the demo's config"), device_option(),
           verbose_option()}};
}

int cmd_demo(const Args& a) {
  Config demo;
  demo.load_json(nlohmann::json::parse(kDemoConfig), "experiments/configs/demo.json (built in)");
  Settings settings = resolve_settings(resolve_config(a, demo));  // first: a bad --set fails before anything is written
  const std::string out = a.get("out", "runs/demo");
  const FolderLock lock(out, a.command_line());
  std::string data = a.get("data", "");
  if (data.empty()) {
    data = out + "/data";
    if (!path_exists(data + "/splits.json")) {  // written last: its absence means not (fully) synthesised
      PhantomOptions po;
      po.patients = a.get_int("patients", 20);
      synthesise_dataset(data, po, 0, true);  // its own data folder, incomplete if it is there at all
    }
  }
  std::string split_file = data + "/splits.json";
  if (!path_exists(split_file)) {
    split_file = out + "/splits.json";
    if (!path_exists(split_file)) {
      const Splits s = write_folder_split(data, settings.data.layout, settings.data.dataset, split_file);
      std::printf("demo: derived a split of %s's cases -> %s\n%s", data.c_str(), split_file.c_str(),
                  describe_split(s).c_str());
    }
  }
  settings = settings.with_data(absolute_path(data), absolute_path(split_file), "demo");
  std::printf("demo: resolved config\n%s\n", settings.config.to_text().c_str());
  ReproduceOptions opt{out, a.command_line(), !a.flag("verbose")};
  const std::string table = run_reproduce(settings, opt);
  std::printf("\n%s\n", table.c_str());
  std::printf("Pictures: %s/finetune/*/*/eval/pictures/ (overlays: image | ground truth | prediction;\n"
              "loss and validation curves), %s/pictures/validation_*.png (the rows' validation curves),\n"
              "%s/pretrain/*/pictures/ (before and after each pre-training: held-out embeddings and the\n"
              "first batch's similarity matrix of a global one, similarity maps of query pixels of a local\n"
              "one, the task's input, target and output of a pretext one); docs/tutorial.md reads them.\n"
              "Per-step logs: each run folder's log.txt; all runs in TensorBoard: tensorboard --logdir %s\n",
              out.c_str(), out.c_str(), out.c_str(), out.c_str());
  return 0;
}

}  // namespace

CS_COMMAND(reproduce_spec(), cmd_reproduce);
CS_COMMAND(demo_spec(), cmd_demo);

}  // namespace cs
