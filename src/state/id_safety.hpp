// What keeps ids unique beyond one process's memory, in one set of figures
// for stats and /metrics: the reservations (state file) and the worker-id
// lease, whichever the daemon runs with.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "lease/lease_keeper.hpp"

namespace katsubushi::state {

struct IdSafetyFigures {
  std::string lease_state = "static";  // "static" with -worker-id, else the lease's state
  std::string lease_store = "none";    // "none" with -worker-id, "redis" or "etcd"
  std::uint64_t lease_refresh_failures = 0;
  std::uint64_t lease_changes = 0;
  std::uint64_t clock_waits = 0;       // starts that waited for the clock to pass a mark
  std::int64_t reserved_until_ms = 0;  // ms since the id epoch; 0 without reservations
  std::uint64_t state_writes = 0;
  std::uint64_t state_write_failures = 0;
  // Redis TIME minus our clock at the last claim or refresh (ms); 0 without a
  // lease, and with etcd (it offers no clock).
  std::int64_t store_clock_skew_ms = 0;
};
using IdSafetySource = std::function<IdSafetyFigures()>;

// The lease's part of the figures.
inline void add_lease_figures(IdSafetyFigures& f, const lease::LeaseStats& l) {
  f.lease_state = std::string(lease::to_string(l.state));
  f.lease_store = l.store;
  f.lease_refresh_failures = l.refresh_failures;
  f.lease_changes = l.lease_changes;
  f.store_clock_skew_ms = l.store_clock_skew_ms;
}

}  // namespace katsubushi::state
