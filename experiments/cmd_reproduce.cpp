// Subcommands reproduce (a whole results table) and demo (the same protocol at reduced scale on
// a synthetic phantom dataset, on the CPU).
#include <sys/stat.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "experiments/cli.h"
#include "experiments/data.h"
#include "experiments/reproduce.h"
#include "experiments/run_folder.h"
#include "io/datasets.h"
#include "io/synth.h"

namespace cs {
namespace {

// The demo's embedded default (experiments/configs/demo.json holds the same, for reading).
// Reduced scale: 64x64 inputs at three times the ACDC pixel size (the same field of view), a few
// hundred iterations per stage, labelled sets of 1 and 2 volumes, every fine-tuning row with the
// same budget.
const char* kDemoConfig = R"({
  "description": "contraseg demo: the reproduce protocol at reduced scale on the CPU",
  "dataset": "acdc",
  "compat": "paper",
  "image_size": 64,
  "target_res": 4.10157,
  "log_every": 25,
  "checkpoint_every": 100,
  "global": {"loss": "gd", "iterations": 400, "volumes": 3, "partitions": 4},
  "local": {"loss": "lr", "iterations": 250, "blocks": 3, "batch": 6},
  "finetune": {"iterations": 200, "batch": 10, "val_every": 25},
  "reproduce": {"labeled": "tr1,tr2", "combs": "c1,c2,c3"}
})";

int cmd_reproduce(int argc, char** argv) {
  Args a(argc, argv, {"config", "data", "out", "device"}, {"verbose"}, {"set"});
  if (a.help()) {
    std::printf(
        "usage: contraseg reproduce --config CFG --data DIR --out DIR [--set KEY=VALUE]...\n"
        "The whole protocol: stage 1, stage 2, then stage 3 from random init, from stage 1 (global only)\n"
        "and from stage 2 (global + local) for every labelled set and combination in reproduce.labeled /\n"
        "reproduce.combs, each evaluated on the test cases; writes DIR/results.md and DIR/results.csv.\n"
        "Re-running on the same DIR skips finished parts and resumes a killed one.\n"
        "  --verbose         per-step lines on the terminal (always in each run's log.txt)\n");
    return 0;
  }
  Config cfg;
  cfg.load_file(a.require("config"));
  for (const auto& kv : a.all("set")) cfg.apply_override(kv);
  if (a.has("data")) cfg.set("data", a.get("data", ""), "--data");
  if (a.has("device")) cfg.set("device", a.get("device", ""), "--device");
  std::printf("reproduce: resolved config\n%s", cfg.to_text().c_str());
  ReproduceOptions opt{a.require("out"), command_line(argc, argv), !a.flag("verbose")};
  std::printf("\n%s", run_reproduce(cfg, opt).c_str());
  return 0;
}

int cmd_demo(int argc, char** argv) {
  Args a(argc, argv, {"data", "out", "patients", "device"}, {"verbose"}, {"set"});
  if (a.help()) {
    std::printf(
        "usage: contraseg demo [--data DIR] [--out DIR] [--set KEY=VALUE]...\n"
        "Runs the reproduce protocol at reduced scale on the CPU: stage 1 (G^D), stage 2 (L^R), and\n"
        "fine-tuning on 1 and 2 labelled volumes from random init, global only and global + local,\n"
        "then prints the results table. Without --data it first synthesises a cardiac phantom dataset\n"
        "in the ACDC layout (contraseg synth); with --data it uses your ACDC-layout folder (a split is\n"
        "derived from its cases unless it holds splits.json).\n"
        "  --out DIR         default runs/demo\n"
        "  --patients N      phantom patients to synthesise (default 20)\n");
    return 0;
  }
  const std::string out = a.get("out", "runs/demo");
  make_dirs(out);
  Config cfg;
  cfg.load_json(nlohmann::json::parse(kDemoConfig), "the demo's embedded config");
  std::string data = a.get("data", "");
  if (data.empty()) {
    data = out + "/data";
    if (!path_exists(data + "/splits.json")) {
      const int n = a.get_int("patients", 20);
      std::printf("demo: synthesising %d phantom patients in the ACDC layout -> %s\n", n, data.c_str());
      make_dirs(data);
      PhantomOptions po;
      po.patients = n;
      for (int k = 1; k <= n; ++k) write_phantom_patient(data, make_phantom_patient(k, po));
    }
  }
  const std::string split_file = path_exists(data + "/splits.json") ? data + "/splits.json" : out + "/splits.json";
  if (!path_exists(split_file)) {
    std::vector<std::string> ids;
    for (const auto& c : list_acdc(data)) ids.push_back(c.id);
    write_derived_splits(split_file, "acdc", ids);
    std::printf("demo: derived a split of %zu cases -> %s\n", ids.size(), split_file.c_str());
  }
  cfg.set("data", data, "demo");
  cfg.set("splits", split_file, "demo");
  for (const auto& kv : a.all("set")) cfg.apply_override(kv);
  if (a.has("device")) cfg.set("device", a.get("device", ""), "--device");
  std::printf("demo: resolved config\n%s\n", cfg.to_text().c_str());
  ReproduceOptions opt{out, command_line(argc, argv), !a.flag("verbose")};
  const std::string table = run_reproduce(cfg, opt);
  std::printf("\n%s\n", table.c_str());
  std::printf("Pictures: %s/finetune/*/*/eval/pictures/ (overlays: image | ground truth | prediction;\n"
              "loss and validation curves). Per-step logs: each run folder's log.txt.\n",
              out.c_str());
  return 0;
}

}  // namespace

CS_COMMAND("reproduce", "the whole protocol for a dataset and its results table", cmd_reproduce);
CS_COMMAND("demo", "the protocol at reduced scale on synthetic phantoms (CPU)", cmd_demo);

}  // namespace cs
