#include "process/stop_signals.hpp"

#include <pthread.h>

namespace katsubushi::process {

namespace {

sigset_t stop_signal_set() noexcept {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : kStopSignals) sigaddset(&set, sig);
  return set;
}

}  // namespace

void block_stop_signals() noexcept {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void unblock_stop_signals() noexcept {
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace katsubushi::process
