#pragma once
// Preemption (a cluster taking a job's node back, or its time limit near): SIGTERM or SIGUSR1
// (Slurm's --signal) during training makes the run save its periodic checkpoint after the step in
// progress and stop with Preempted; the command then exits with kRequeueExitCode, which tells the
// executor to queue the run again. The requeued run resumes from that checkpoint and ends with the
// weights of an uninterrupted one (CPU). Outside training the signals keep their default action.
#include <stdexcept>
#include <string>

namespace cs {

// EX_TEMPFAIL: "try again later".
constexpr int kRequeueExitCode = 75;

struct Preempted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// While alive (on any number of threads at once), SIGTERM and SIGUSR1 are caught and recorded
// instead of ending the process.
class PreemptionGuard {
 public:
  PreemptionGuard();
  ~PreemptionGuard();
  PreemptionGuard(const PreemptionGuard&) = delete;
  PreemptionGuard& operator=(const PreemptionGuard&) = delete;
};

// The caught signal's name ("SIGTERM"), or "" when none arrived.
std::string preemption_signal();
// A run stopped for the signal: the last guard then leaves the process to exit with
// kRequeueExitCode instead of ending it as the signal would.
void preemption_handled();

}  // namespace cs
