// Worker ids from Redis, in raus's key scheme so go-katsubushi (raus) and
// this daemon can share a namespace:
//   {ns}:id:{N} = our uuid, with an expiry   (SET NX EX to claim)
//   PUBLISH {ns}:broadcast "{uuid}:{N}"      (every refresh, as raus)
// and, beyond raus:
//   {ns}:hwm:{N} = the holder's reserved-until mark (ms since the id epoch),
//   only ever raised, never expiring: the fence a later holder of N starts above.
//
// One thread of its own makes every Redis call. A lease is valid until the
// start of its last successful refresh + expiry - margin (on the daemon's
// clock); the LeaseListener hears of every claim, refresh and loss, and the
// daemon issues no id outside a valid lease. Losing the lease is never fatal:
// the keeper keeps claiming (the same id first) until one is held again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "id/clock.hpp"
#include "lease/lease_listener.hpp"
#include "lease/redis_client.hpp"
#include "lease/redis_url.hpp"

namespace katsubushi::lease {

struct LeaseOptions {
  RedisUrl url;
  std::uint32_t min_worker_id = 1;
  std::uint32_t max_worker_id = 1023;
  std::chrono::seconds expiry{600};  // go-katsubushi's raus.LockExpires
  // Every call's timeout; well under the margin.
  std::chrono::milliseconds call_timeout{1000};
  // 0: min(1 s, expiry / 3), raus's one second unless the expiry is short.
  std::chrono::milliseconds refresh_interval{0};
  // 0: expiry / 4.
  std::chrono::milliseconds margin{0};
  // The longest wait between claims while no lease is held.
  std::chrono::milliseconds max_backoff{5000};
};

struct LeaseStats {
  LeaseState state = LeaseState::claiming;
  std::uint32_t worker_id = 0;
  std::uint64_t refresh_failures = 0;
  std::uint64_t lease_changes = 0;  // leases gained after the first (after a loss)
  std::int64_t valid_until_unix_ms = 0;
};

// Claiming failed for good (no free id in the range) or Redis cannot be
// reached at start; the message names the range or the address.
class LeaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LeaseKeeper {
 public:
  LeaseKeeper(LeaseOptions options, id::Clock& clock, LeaseListener& listener);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The first claim, on the caller's thread: an id from the range, its fence
  // read, the listener told, the hwm written. Throws LeaseError.
  std::uint32_t claim_at_start();

  // Holds the lease on a thread of its own from now on.
  void start();

  // Stops the thread and deletes our key if it still holds our uuid (bounded
  // by the call timeout). Idempotent.
  void stop_and_release();

  LeaseStats stats() const;
  const std::string& uuid() const { return uuid_; }

 private:
  std::string id_key(std::uint32_t worker) const;
  std::string hwm_key(std::uint32_t worker) const;
  // One SET NX per candidate from a random offset; the id, or nullopt when
  // every id of the range is held. Throws RedisError.
  std::optional<std::uint32_t> try_claim(std::optional<std::uint32_t> prefer);
  // After a claim: read the fence, tell the listener, write the hwm.
  void took(std::uint32_t worker, std::int64_t started_unix_ms);
  // raus's hold step plus the hwm; false when the key holds another uuid or
  // none (the lease is gone). Throws RedisError.
  bool refresh(std::int64_t started_unix_ms);
  void write_hwm();
  void run();
  bool wait_for(std::chrono::milliseconds d);  // false once stopping
  std::int64_t valid_until(std::int64_t started_unix_ms) const;

  const LeaseOptions options_;
  const std::chrono::milliseconds refresh_interval_;
  const std::chrono::milliseconds margin_;
  id::Clock& clock_;
  LeaseListener& listener_;
  RedisClient redis_;
  std::string uuid_;
  std::mt19937_64 random_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  bool released_ = false;  // guarded by mu_
  LeaseStats stats_;       // guarded by mu_
  std::int64_t fence_ = -1;  // guarded by mu_: the hwm found at the claim
  std::thread thread_;
};

}  // namespace katsubushi::lease
