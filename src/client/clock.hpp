// The client's clocks, injected so the failover tests run on simulated time:
// a steady clock for deadlines and backoff, the wall clock (ms since the Unix
// epoch) for checking that an id is not from the future, and a sleep.
#pragma once

#include <chrono>
#include <cstdint>

namespace katsubushi::client {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  virtual std::int64_t unix_ms() const = 0;
  virtual void sleep_until(SteadyTime t) const = 0;
};

// The real clocks.
const Clock& system_clock() noexcept;

}  // namespace katsubushi::client
