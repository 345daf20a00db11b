// contraseg with seams for the tests of --resume and of preemption:
//  CONTRASEG_KILL_AFTER_STEP=N makes the process die abruptly (exit status 86, no unwinding, no
//  flushing) right after training step N of a stage and its checkpoint, as a killed process would;
//  CONTRASEG_SIGNAL_AFTER_STEP=N sends the process SIGUSR1 right after step N, as Slurm warns a job
//  near its time limit (--signal=USR1).
#include <csignal>
#include <cstdlib>

#include "experiments/cli/entry.h"
#include "experiments/pipeline/training.h"

namespace {
int kill_after = 0, signal_after = 0;
}

int main(int argc, char** argv) {
  if (const char* n = std::getenv("CONTRASEG_KILL_AFTER_STEP")) kill_after = std::atoi(n);
  if (const char* n = std::getenv("CONTRASEG_SIGNAL_AFTER_STEP")) signal_after = std::atoi(n);
  if (kill_after > 0 || signal_after > 0)
    cs::set_step_hook([](int steps_done) {
      if (steps_done == kill_after) std::_Exit(86);
      if (steps_done == signal_after) std::raise(SIGUSR1);
    });
  return cs::command_main(argc, argv);
}
