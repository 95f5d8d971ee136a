// The client's clocks, injected so the failover tests run on simulated time:
// a steady clock for deadlines and backoff, the wall clock (ms since the Unix
// epoch) for checking that an id is not from the future, and a sleep.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace katsubushi::client {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  virtual std::int64_t unix_ms() const = 0;
  virtual void sleep_until(SteadyTime t) const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_until(SteadyTime t) const override { std::this_thread::sleep_until(t); }
};

// The real clocks.
inline const Clock& system_clock() noexcept {
  static const SystemClock clock;
  return clock;
}

}  // namespace katsubushi::client
