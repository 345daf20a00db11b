// The command line (entry.h): help, --version and dispatch to the subcommands.
#include "experiments/cli/entry.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "experiments/cli/cli.h"
#include "experiments/pipeline/preemption.h"

namespace {

const char* kHelpUsage =
    "usage: contraseg help [COMMAND]\n\n"
    "Without COMMAND: the list of commands. With COMMAND: its usage and options (as COMMAND --help).\n"
    "contraseg help --options COMMAND prints the names of the options COMMAND accepts, one a line.\n";

void usage() {
  std::printf("contraseg %s: contrastive global+local pre-training for medical image segmentation\n\n",
              CONTRASEG_VERSION);
  std::printf("usage: contraseg <command> [options]   (contraseg help <command> for its options)\n\n");
  std::printf("commands:\n");
  for (const auto& c : cs::command_registry())
    std::printf("  %-16s %s\n", c.spec.name.c_str(), c.spec.summary.c_str());
  std::printf("  %-16s %s\n", "help", "this list, or the usage and options of one command");
}

// `contraseg help [--options] [COMMAND]`.
int help(int argc, char** argv) {
  const bool names_only = argc > 2 && !std::strcmp(argv[2], "--options");
  const int first = names_only ? 3 : 2;
  if (argc == first) {
    if (names_only) {
      std::fprintf(stderr, "%s", kHelpUsage);
      return 2;
    }
    usage();
    return 0;
  }
  if (argc > first + 1) {
    std::fprintf(stderr, "contraseg help: one command at a time\n%s", kHelpUsage);
    return 2;
  }
  const std::string name = argv[first];
  if (name == "help") {
    if (!names_only) std::printf("%s", kHelpUsage);
    return 0;
  }
  const cs::CommandInfo* c = cs::find_command(name);
  if (!c) {
    std::fprintf(stderr, "contraseg help: unknown command '%s' (see contraseg help)\n", name.c_str());
    return 2;
  }
  if (!names_only) {
    std::printf("%s", cs::help_text(c->spec).c_str());
    return 0;
  }
  for (const auto& o : c->spec.options) std::printf("--%s\n", o.name.c_str());
  std::printf("--help\n");
  return 0;
}

int run_command(const cs::CommandInfo& c, int argc, char** argv) {
  try {
    const cs::Args args(argc, argv, c.spec);
    if (args.help()) {
      std::printf("%s", cs::help_text(c.spec).c_str());
      return 0;
    }
    return c.run(args);
  } catch (const cs::Preempted& e) {
    std::fprintf(stderr, "contraseg %s: %s\n", argv[0], e.what());
    return cs::kRequeueExitCode;
  } catch (const cs::UsageError& e) {
    std::fprintf(stderr, "contraseg %s: error: %s\n", argv[0], e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "contraseg %s: error: out of memory; lower the batch (finetune.batch, global.batch, "
                 "global.volumes, local.batch, pretext.batch) or image_size, or use a machine with more memory\n",
                 argv[0]);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "contraseg %s: error: %s\n", argv[0], e.what());
    return 1;
  }
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

int cs::command_main(int argc, char** argv) {
  prefer_passive_openmp(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("contraseg %s\n", CONTRASEG_VERSION);
    return 0;
  }
  if (!std::strcmp(argv[1], "help")) return help(argc, argv);
  if (const cs::CommandInfo* c = cs::find_command(argv[1])) return run_command(*c, argc - 1, argv + 1);
  std::fprintf(stderr, "contraseg: unknown command '%s' (see contraseg help)\n", argv[1]);
  return 2;
}
