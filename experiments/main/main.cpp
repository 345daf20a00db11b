// contraseg: contrastive pre-training of a UNet with global and local losses, and fine-tuning
// with few labels. `contraseg --help` lists the subcommands.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "experiments/cli.h"

namespace {
void usage() {
  std::printf("contraseg %s: contrastive global+local pre-training for medical image segmentation\n\n",
              CONTRASEG_VERSION);
  std::printf("usage: contraseg <command> [options]   (contraseg <command> --help for its options)\n\n");
  std::printf("commands:\n");
  for (const auto& c : cs::command_registry()) std::printf("  %-16s %s\n", c.name.c_str(), c.summary.c_str());
}
}  // namespace

// OpenMP threads that spin while waiting for work steal the cores from each other as soon as
// anything else runs on the machine: measured here, a training step went from 0.22 s to 7.8 s
// with one other busy process on 2 cores. Sleeping waits cost little when the machine is quiet.
// libgomp reads OMP_WAIT_POLICY once, when it is loaded, so the command restarts itself with it
// set (unless the user chose a policy).
void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run on as we are
}

int main(int argc, char** argv) {
  prefer_passive_openmp(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("contraseg %s\n", CONTRASEG_VERSION);
    return 0;
  }
  for (const auto& c : cs::command_registry()) {
    if (c.name != argv[1]) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "contraseg %s: error: %s\n", argv[1], e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "contraseg: unknown command '%s' (see contraseg --help)\n", argv[1]);
  return 2;
}
