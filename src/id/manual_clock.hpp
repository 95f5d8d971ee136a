// A simulated clock for tests, property tests, fuzzers and benchmarks.
// Time only moves when the test moves it, or when the generator waits:
// a wait jumps straight to the awaited millisecond and is counted.
#pragma once

#include <atomic>
#include <cstdint>

#include "id/clock.hpp"
#include "id/layout.hpp"

namespace katsubushi::id {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_unix_ms = kEpochUnixMs + 1'000'000)
      : now_(start_unix_ms) {}

  std::int64_t now_unix_ms() override { return now_.load(std::memory_order_acquire); }

  void sleep_until_unix_ms(std::int64_t target) override {
    sleeps_.fetch_add(1, std::memory_order_relaxed);
    std::int64_t cur = now_.load(std::memory_order_acquire);
    while (cur < target && !now_.compare_exchange_weak(cur, target)) {
    }
  }

  void set(std::int64_t unix_ms) { now_.store(unix_ms, std::memory_order_release); }
  void advance(std::int64_t ms) { now_.fetch_add(ms, std::memory_order_acq_rel); }
  std::int64_t sleeps() const { return sleeps_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> now_;
  std::atomic<std::int64_t> sleeps_{0};
};

}  // namespace katsubushi::id
