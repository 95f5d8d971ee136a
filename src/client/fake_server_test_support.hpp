// Test support for the client's unit tests: a simulated clock and fake
// servers behind the Transport interface, scripted per test.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/clock.hpp"
#include "client/failover.hpp"
#include "client/transport.hpp"
#include "id/layout.hpp"

namespace katsubushi::client::testing {

// Steady time that moves only when told (or slept through); the wall clock
// is 2026-01-01 plus the same distance.
class FakeClock final : public Clock {
 public:
  static constexpr std::int64_t kStartUnixMs = 1767225600000;
  SteadyTime now() const override {
    const std::lock_guard lock(mutex_);
    return now_;
  }
  std::int64_t unix_ms() const override {
    return kStartUnixMs +
           std::chrono::duration_cast<std::chrono::milliseconds>(now() - SteadyTime{}).count();
  }
  void sleep_until(SteadyTime t) const override {
    const std::lock_guard lock(mutex_);
    if (t > now_) now_ = t;
    ++sleeps_;
  }
  void advance(std::chrono::milliseconds d) const {
    const std::lock_guard lock(mutex_);
    now_ += d;
  }
  int sleeps() const {
    const std::lock_guard lock(mutex_);
    return sleeps_;
  }

 private:
  mutable std::mutex mutex_;
  mutable SteadyTime now_{};
  mutable int sleeps_ = 0;
};

// A fake server: a worker id of its own, ids from the clock's millisecond,
// and a switch to make it fail (or answer badly) on demand.
class FakeServer final : public Transport {
 public:
  enum class Mode { healthy, refuse, bad_ids, short_reply, future_ids };

  FakeServer(const FakeClock& clock, std::uint32_t worker_id)
      : clock_(clock), worker_id_(worker_id) {}

  Fault fetch(std::size_t n, SteadyTime /*deadline*/, std::vector<std::uint64_t>& ids) override {
    const std::lock_guard lock(mutex_);
    ++calls_;
    clock_.advance(latency_);
    switch (mode_) {
      case Mode::refuse:
        return {TryErrc::connect_failed, "refused (fake)"};
      case Mode::bad_ids:
        ids.assign(n, 0);
        return {};
      case Mode::short_reply:
        n = n > 1 ? n - 1 : 0;
        break;
      case Mode::future_ids:
        for (std::size_t i = 0; i < n; ++i) ids.push_back(make(clock_.unix_ms() + 60000));
        return {};
      case Mode::healthy:
        break;
    }
    for (std::size_t i = 0; i < n; ++i) ids.push_back(make(clock_.unix_ms()));
    return {};
  }
  void drop_idle() override { ++drops_; }

  void set_mode(Mode m) {
    const std::lock_guard lock(mutex_);
    mode_ = m;
  }
  void set_latency(std::chrono::milliseconds d) {
    const std::lock_guard lock(mutex_);
    latency_ = d;
  }
  int calls() const {
    const std::lock_guard lock(mutex_);
    return calls_;
  }
  int drops() const { return drops_; }

 private:
  std::uint64_t make(std::int64_t unix_ms) {
    const auto ms = unix_ms - id::kEpochUnixMs;
    if (ms != last_ms_) {
      last_ms_ = ms;
      sequence_ = 0;
    }
    return id::encode({.timestamp_ms = ms, .worker_id = worker_id_, .sequence = sequence_++});
  }

  const FakeClock& clock_;
  const std::uint32_t worker_id_;
  mutable std::mutex mutex_;
  Mode mode_ = Mode::healthy;
  std::chrono::milliseconds latency_{1};
  int calls_ = 0;
  std::atomic<int> drops_{0};
  std::int64_t last_ms_ = -1;
  std::uint32_t sequence_ = 0;
};

// `count` fake servers (worker ids 1, 2, ...) named "s0", "s1", ...; the
// raw pointers stay valid as long as what they are moved into.
struct FakeFleet {
  std::vector<NamedTransport> transports;
  std::vector<FakeServer*> servers;

  FakeFleet(const FakeClock& clock, int count) {
    for (int i = 0; i < count; ++i) {
      auto s = std::make_unique<FakeServer>(clock, static_cast<std::uint32_t>(i + 1));
      servers.push_back(s.get());
      transports.push_back({"s" + std::to_string(i), std::move(s)});
    }
  }
};

}  // namespace katsubushi::client::testing
