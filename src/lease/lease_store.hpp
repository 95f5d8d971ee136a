// Where worker-id leases are kept: the steps a LeaseKeeper takes, one call
// each, whatever the store. Two stores implement them:
//   RedisLeaseStore  raus's keys in Redis (or a Redis Cluster), the fence
//                    beside them (redis_lease_store.hpp)
//   EtcdLeaseStore   keys attached to one etcd lease, the fence raised in a
//                    transaction guarded by the key (etcd_lease_store.hpp)
// A store keeps no thread and decides no timing: the keeper does. Every call
// is bounded by the store's call timeout and throws StoreError when it does
// not complete.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lease/store_error.hpp"

namespace katsubushi::lease {

// What a refresh found in a worker id's key.
enum class KeyHold : std::uint8_t {
  kept,   // ours: its lease extended
  gone,   // expired or deleted (left as it is)
  taken,  // another holder's (left as it is)
};

// An id whose fence is not a mark: it cannot be fenced (an operator fixes
// the key).
class UnfenceableId : public StoreError {
 public:
  using StoreError::StoreError;
};

// The fence a new holder of an id starts above.
struct FenceRead {
  std::int64_t fence = -1;  // ms since the id epoch; -1 when there is none
  // How long the node that keeps the fence has been up, in whole seconds;
  // nullopt when unknown. Only a store that may lose acknowledged writes
  // reports it (a node restarted from a snapshot may keep an older fence).
  std::optional<std::int64_t> store_uptime_s;
};

// What raising the fence with a refresh found: `not_counted` says why a raise
// on a kept key does not count yet (Redis: too few replicas acknowledged it);
// empty when it counts.
struct FenceRaise {
  KeyHold hold = KeyHold::gone;
  std::string not_counted;
};

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  // "redis", "etcd": the lease_store stat.
  virtual std::string_view kind() const noexcept = 0;
  // What our keys hold: this process's uuid.
  virtual const std::string& uuid() const noexcept = 0;

  // "redis://host:6379?ns=raus", "etcd http://a:2379,... prefix katsubushi/":
  // for logs and errors, never with a password.
  virtual std::string describe() const = 0;
  virtual std::string id_key(std::uint32_t worker) const = 0;
  virtual std::string fence_key(std::uint32_t worker) const = 0;
  // Whether an acknowledged write may be lost (Redis: a restart without it,
  // a FLUSHALL, a failover to a replica that missed it; etcd keeps what a
  // quorum acknowledged). A claim that finds no fence in such a store waits
  // out any earlier holder's lease.
  virtual bool may_lose_acknowledged_writes() const = 0;

  // The ids known to be in use before the first claim, indexed by worker id
  // (listening `learn_time` where the store announces them). Throws
  // LeaseError when another process uses our uuid; store failures are
  // logged, not thrown (the claim decides anyway).
  virtual std::vector<bool> used_ids(std::chrono::milliseconds learn_time) = 0;
  // Takes the id if its key is absent: true when ours now.
  virtual bool claim(std::uint32_t worker) = 0;
  // Extends the key's lease if it is ours; writes nothing otherwise.
  virtual KeyHold extend(std::uint32_t worker) = 0;
  // The id's fence. Throws UnfenceableId when it is not a mark.
  virtual FenceRead read_fence(std::uint32_t worker) = 0;
  // Atomically with respect to other holders: if the key is ours, extend its
  // lease and raise the fence to `mark` (never lower it); else write nothing.
  virtual FenceRaise hold_and_fence(std::uint32_t worker, std::int64_t mark) = 0;
  // The store's clock in microseconds since 1970, to check ours against;
  // nullopt when the store has none to offer.
  virtual std::optional<std::int64_t> store_time_us() = 0;
  // Tells processes starting that the id is in use (raus's broadcast).
  virtual void announce(std::uint32_t worker) = 0;
  // Deletes the key if it is ours: true when deleted. With `final_mark`, the
  // fence is set to it in the same step (a clean stop: nothing of ours is
  // above it).
  virtual bool release(std::uint32_t worker, std::optional<std::int64_t> final_mark) = 0;
  // After the last release: whatever the store holds for this process goes.
  // Never throws.
  virtual void close() noexcept = 0;
  // Drops the connections after a failure; the next call connects again.
  virtual void disconnect() noexcept = 0;
};

}  // namespace katsubushi::lease
