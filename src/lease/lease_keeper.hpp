// Worker ids leased from a store (lease_store.hpp): Redis in raus's key
// scheme, so go-katsubushi (raus) and this daemon can share a namespace, or
// etcd. Each id has a key that names its holder, kept by a lease, and beside
// it a fence: the holder's reserved-until mark (ms since the id epoch),
// raised only by the id's holder (in one step with its refresh) and dropped
// to its last id when it gives the id back. A later holder of the id issues
// only above it.
//
// A claim that finds no fence at all in a store that may lose acknowledged
// writes (Redis: the id's first use, or a store that lost its data) cannot
// know what an earlier holder issued: it issues nothing until any earlier
// holder's lease has surely ended (unfenced_claim_wait). Our clock is
// compared with the store's (Redis's TIME) and the kernel's error bound at
// every claim and refresh: beyond max_clock_skew no id is claimed or issued
// (the lease is kept, ids paused).
//
// One thread of its own makes every store call once start() has run. A lease
// is valid until the start of its last successful refresh + expiry - margin
// (on the daemon's clock); the LeaseListener hears of every claim, refresh
// and loss, and the daemon issues no id outside a valid lease. Losing the
// lease is never fatal: the keeper keeps claiming (the same id first) until
// one is held again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "id/clock.hpp"
#include "id/kernel_clock.hpp"
#include "lease/lease_listener.hpp"
#include "lease/lease_options.hpp"
#include "lease/lease_store.hpp"

namespace katsubushi::lease {

struct LeaseStats {
  std::string store;  // "redis" or "etcd"
  LeaseState state = LeaseState::claiming;
  std::uint32_t worker_id = 0;  // the id held, or last held; 0 before the first
  std::uint64_t refresh_failures = 0;
  std::uint64_t lease_changes = 0;  // leases gained after the first (after a loss)
  std::int64_t valid_until_unix_ms = 0;
  // Our clock against the store's at the last claim or refresh: store - ours
  // (ms); measured = false before the first reading.
  bool store_clock_measured = false;
  std::int64_t store_clock_skew_ms = 0;
  // Why no id is issued (paused, lost, claiming), empty while held.
  std::string why{};
};

// A claim or refresh refused because our clock cannot be trusted.
class ClockUntrusted : public StoreError {
 public:
  using StoreError::StoreError;
};

class LeaseKeeper {
 public:
  // Leases from Redis at options.url. Throws LeaseError for options that
  // cannot work (the message names them).
  LeaseKeeper(const LeaseOptions& options, id::Clock& clock, LeaseListener& listener);
  // Leases from `store` (etcd's, src/etcd/), made with this keeper's call
  // timeout (resolve_timing(options).call_timeout) and expiry; options.url
  // and options.uuid are not used.
  LeaseKeeper(LeaseOptions options, std::unique_ptr<LeaseStore> store, id::Clock& clock,
              LeaseListener& listener);
  ~LeaseKeeper();  // stop_and_release()
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The first claim, on the caller's thread, before start(): the ids in use
  // learnt for learn_time, an id from the range, its fence read, the listener
  // told, the hwm written. Throws LeaseError.
  std::uint32_t claim_at_start();

  // Holds the lease on a thread of its own from now on (claims one first if
  // none is held). Never throws from that thread; never ends the process.
  void start();

  // Stops the thread (promptly: it waits on a condition variable) and deletes
  // our key if it still holds our uuid, bounded by the call timeout. With
  // `final_mark` (the generator's last issued timestamp, once it issues no
  // more), the fence drops to it in the same step, so the next holder starts
  // right above our last id instead of above our lease's end.
  // Idempotent; the destructor calls it.
  void stop_and_release(std::optional<std::int64_t> final_mark = std::nullopt);

  // Thread-safe. A lease past its end reads as lost even before the thread,
  // perhaps waiting on a call, has noticed.
  LeaseStats stats() const;
  const std::string& uuid() const noexcept { return store_->uuid(); }
  // The values in effect once the zeros of LeaseOptions are resolved.
  std::chrono::milliseconds refresh_interval() const noexcept { return timing_.refresh_interval; }
  std::chrono::milliseconds margin() const noexcept { return timing_.margin; }
  std::chrono::milliseconds call_timeout() const noexcept { return timing_.call_timeout; }

 private:
  std::int64_t valid_until(std::int64_t started_unix_ms) const;
  // `prefer` first (taken back if it still holds our uuid), then raus's way: up to 10 unused ids
  // from a random offset, one of them at random, SET NX; the id, or nullopt when every id of the
  // range is held. Throws StoreError.
  // `fresh`: set when the key was absent (SET NX), clear when it still held
  // our uuid and was taken back.
  std::optional<std::uint32_t> try_claim(std::optional<std::uint32_t> prefer,
                                         std::vector<bool> used, bool& fresh);
  // After a claim: read the fence (none on a fresh claim: wait out any
  // earlier holder's lease), tell the listener, raise the fence.
  // Throws StoreError when the fence cannot be read or is not a mark (the
  // key is given back).
  void took(std::uint32_t worker, std::int64_t started_unix_ms, bool fresh);
  // try_claim() then took(), until an id whose fence can be read is held;
  // ids whose hwm is not a mark are skipped and described in `refused`.
  // nullopt when none is left. Throws StoreError.
  std::optional<std::uint32_t> claim(std::optional<std::uint32_t> prefer, std::vector<bool> used,
                                     std::string& refused);
  // Our clock against the kernel's bound and the store's TIME; the stats
  // updated. Empty when it can be trusted, else why not. Throws StoreError.
  std::string check_clocks();
  // The fence raised to the lease's end `until` with the key's refresh, in
  // one step. kept only when it counts: ours, and acknowledged as the store
  // asks. `failure` says why a kept key did not count.
  KeyHold raise_fence(std::uint32_t worker, std::int64_t until, std::string& failure);
  void release(std::uint32_t worker, std::optional<std::int64_t> final_mark);
  void run();
  void step(std::chrono::milliseconds& wait, std::chrono::milliseconds& backoff);
  void lose(std::string_view why);
  void pause(std::uint32_t worker, const std::string& why);
  bool wait_for(std::chrono::milliseconds d);  // false once stopping

  const LeaseOptions options_;
  const LeaseTiming timing_;
  id::Clock& clock_;
  LeaseListener& listener_;
  // Used by the thread, or by the caller while it does not run.
  std::unique_ptr<LeaseStore> store_;
  std::mt19937_64 random_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;             // guarded by mu_
  bool released_ = false;             // guarded by mu_
  LeaseStats stats_;                  // guarded by mu_
  std::int64_t fence_ = -1;           // guarded by mu_: the floor set at the claim
  id::KernelClockSource kernel_clock_;
  bool told_unsynced_ = false;        // the thread's: the kernel's unsynced clock was logged
  std::uint64_t claim_failures_ = 0;  // the thread's: failed claims, for quieter logs
  std::thread thread_;
};

}  // namespace katsubushi::lease
