#include "experiments/pipeline/preemption.h"

#include <csignal>
#include <mutex>

namespace cs {
namespace {

volatile std::sig_atomic_t caught = 0;
bool handled = false;  // a run stopped for it (Preempted)
std::mutex guards_mu;
int guards = 0;
struct sigaction previous_term, previous_usr1;

extern "C" void record_signal(int sig) { caught = sig; }

}  // namespace

PreemptionGuard::PreemptionGuard() {
  const std::lock_guard<std::mutex> lock(guards_mu);
  if (guards++ > 0) return;
  struct sigaction sa = {};
  sa.sa_handler = record_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a read or write in progress goes on
  sigaction(SIGTERM, &sa, &previous_term);
  sigaction(SIGUSR1, &sa, &previous_usr1);
}

PreemptionGuard::~PreemptionGuard() {
  const std::lock_guard<std::mutex> lock(guards_mu);
  if (--guards > 0) return;
  sigaction(SIGTERM, &previous_term, nullptr);
  sigaction(SIGUSR1, &previous_usr1, nullptr);
  // A signal that came after the last step: the run is done, so the process ends as the signal asks.
  if (caught != 0 && !handled) std::raise(caught);
}

void preemption_handled() {
  const std::lock_guard<std::mutex> lock(guards_mu);
  handled = true;
}

std::string preemption_signal() {
  const int sig = caught;
  return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == 0 ? "" : "signal " + std::to_string(sig);
}

}  // namespace cs
