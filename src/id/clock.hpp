// Where the generator's milliseconds come from. Injected so tests, property
// tests and fuzzers can drive simulated time (rewinds, leaps, stalls).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace katsubushi::id {

class Clock {
 public:
  virtual ~Clock() = default;

  // Milliseconds since the Unix epoch, as this clock estimates them.
  virtual std::int64_t now_unix_ms() = 0;

  // Blocks until now_unix_ms() >= target. A simulated clock may simply move
  // itself forward; a real one sleeps.
  virtual void sleep_until_unix_ms(std::int64_t target) = 0;

  // When the steady clock will have reached the moment this clock reads
  // `target`: what a timer waits for before coming back to the generator.
  // A clock that moves only when told (ManualClock) answers "now".
  virtual std::chrono::steady_clock::time_point steady_at_unix_ms(std::int64_t target) {
    (void)target;
    return std::chrono::steady_clock::now();
  }

  // Wall clock minus this clock's estimate, so operators can see NTP steps.
  virtual std::int64_t drift_ms() { return 0; }
};

// Why no id can carry the time `unix_ms` (before the id epoch or past the
// 41-bit range), naming that time and the limit; nullopt when ids can.
std::optional<std::string> outside_id_time_range(std::int64_t unix_ms);

// A wall-clock anchor taken at construction plus the monotonic time elapsed
// since then: stepping the wall clock backwards while running changes nothing.
// The wall clock is read with clock_gettime, not system_clock, whose int64
// nanoseconds overflow in 2262; far-off times saturate instead of wrapping.
class SystemClock final : public Clock {
 public:
  SystemClock();

  std::int64_t now_unix_ms() override;
  void sleep_until_unix_ms(std::int64_t target) override;
  std::chrono::steady_clock::time_point steady_at_unix_ms(std::int64_t target) override;
  std::int64_t drift_ms() override;

 private:
  std::chrono::steady_clock::time_point anchor_steady_;
  std::int64_t anchor_unix_us_;
};

}  // namespace katsubushi::id
