// contraseg with one seam for the tests of --resume: CONTRASEG_KILL_AFTER_STEP=N makes the process
// die abruptly (exit status 86, no unwinding, no flushing) right after training step N of a stage
// and its checkpoint, as a killed process would.
#include <cstdlib>

#include "experiments/cli/entry.h"
#include "experiments/pipeline/training.h"

namespace {
int kill_after = 0;
}

int main(int argc, char** argv) {
  if (const char* n = std::getenv("CONTRASEG_KILL_AFTER_STEP")) kill_after = std::atoi(n);
  if (kill_after > 0)
    cs::set_step_hook([](int steps_done) {
      if (steps_done == kill_after) std::_Exit(86);
    });
  return cs::command_main(argc, argv);
}
