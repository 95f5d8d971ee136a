// The kernel's own view of the wall clock's health (adjtimex(2)): whether an
// NTP daemon keeps it synchronised, and the error bounds it keeps. Read at
// start and at every lease refresh, and for stats and /metrics.
#pragma once

#include <cstdint>
#include <functional>

namespace katsubushi::id {

struct KernelClock {
  // STA_UNSYNC clear and the call did not answer TIME_ERROR: something
  // (ntpd, chrony, systemd-timesyncd) disciplines the clock.
  bool synced = false;
  // maxerror and esterror, in microseconds; -1 when adjtimex failed. An
  // unsynchronised kernel reports 16 s (NTP_PHASE_LIMIT): no bound at all.
  std::int64_t max_error_us = -1;
  std::int64_t est_error_us = -1;
};

// adjtimex() with modes 0 (read only; needs no privilege).
KernelClock read_kernel_clock() noexcept;

// How the daemon reads it: read_kernel_clock in production, a fake in tests.
using KernelClockSource = std::function<KernelClock()>;

}  // namespace katsubushi::id
