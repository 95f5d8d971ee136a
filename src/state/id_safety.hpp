// What keeps ids unique beyond one process's memory, in one set of figures
// for stats and /metrics: the reservations (state file) and the worker-id
// lease, whichever the daemon runs with.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>
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

// The leases' part of the figures (one lease per held worker id): the state
// is "held" while every lease is, else the first that is not; failures and
// changes are summed; the skew is the widest seen.
inline void add_lease_figures(IdSafetyFigures& f, const std::vector<lease::LeaseStats>& leases) {
  f.lease_state = "held";
  f.lease_refresh_failures = 0;
  f.lease_changes = 0;
  f.store_clock_skew_ms = 0;
  bool state_set = false;
  for (const lease::LeaseStats& l : leases) {
    f.lease_store = l.store;
    if (!state_set && l.state != lease::LeaseState::held) {
      f.lease_state = std::string(lease::to_string(l.state));
      state_set = true;
    }
    f.lease_refresh_failures += l.refresh_failures;
    f.lease_changes += l.lease_changes;
    if (std::abs(l.store_clock_skew_ms) > std::abs(f.store_clock_skew_ms)) {
      f.store_clock_skew_ms = l.store_clock_skew_ms;
    }
  }
}

}  // namespace katsubushi::state
