// What a lease keeper says, recorded for the lease tests (Redis and etcd):
// a LeaseListener that proposes the lease's end as the fence mark (as the
// daemon's Reservations do) unless told otherwise, and a bounded poll.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "id/clock.hpp"
#include "id/layout.hpp"
#include "lease/lease_listener.hpp"

namespace katsubushi::testing {

// Records what the keeper says; proposes the lease's end as the hwm mark
// (as the daemon's Reservations do) unless told otherwise.
class Recorder final : public lease::LeaseListener {
 public:
  explicit Recorder(id::Clock& clock) : clock_(clock) {}

  struct Held {
    std::uint32_t worker;
    std::int64_t valid_until;
    std::int64_t fence;
    std::int64_t at;  // when it was said
  };

  void lease_held(std::uint32_t worker, std::int64_t valid_until, std::int64_t fence) override {
    std::lock_guard lock(mu_);
    held_.push_back({worker, valid_until, fence, clock_.now_unix_ms()});
  }
  void lease_lost(std::string_view why) override {
    std::lock_guard lock(mu_);
    losses_.emplace_back(why);
    lost_at_.push_back(clock_.now_unix_ms());
  }
  void ids_paused(std::string_view why) override {
    std::lock_guard lock(mu_);
    pauses_.emplace_back(why);
  }
  std::int64_t hwm_to_write(std::int64_t lease_end_unix_ms) override {
    std::lock_guard lock(mu_);
    return propose_ ? propose_() : lease_end_unix_ms - id::kEpochUnixMs;
  }
  void hwm_written(std::int64_t mark) override {
    std::lock_guard lock(mu_);
    hwm_.push_back(mark);
  }

  void propose(std::function<std::int64_t()> f) {
    std::lock_guard lock(mu_);
    propose_ = std::move(f);
  }
  std::vector<Held> held() const {
    std::lock_guard lock(mu_);
    return held_;
  }
  std::vector<std::string> losses() const {
    std::lock_guard lock(mu_);
    return losses_;
  }
  std::vector<std::int64_t> lost_at() const {
    std::lock_guard lock(mu_);
    return lost_at_;
  }
  std::vector<std::int64_t> hwm() const {
    std::lock_guard lock(mu_);
    return hwm_;
  }
  std::vector<std::string> pauses() const {
    std::lock_guard lock(mu_);
    return pauses_;
  }

 private:
  id::Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Held> held_;
  std::vector<std::string> losses_;
  std::vector<std::int64_t> lost_at_;
  std::vector<std::int64_t> hwm_;
  std::vector<std::string> pauses_;
  std::function<std::int64_t()> propose_;
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace katsubushi::testing
