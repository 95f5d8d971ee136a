// raus's key protocol in Redis, one call per step, over a RedisClient: the
// keys and the payload of raus's scheme, the commands and scripts that claim,
// refresh, fence and release a worker id. No thread, no timing, no state
// beyond the names: LeaseKeeper decides when each step runs.
//   {ns}:id:{N}   = the holder's uuid, with an expiry   (SET NX EX to claim)
//   {ns}:broadcast  "{uuid}:{N}"                         (PUBLISH on refresh)
//   {{ns}:id:{N}}:hwm = the holder's reserved-until mark (beyond raus; only
//                   raised, and only by the id's holder; hash-tagged to the
//                   id key's slot so one script checks the one and raises
//                   the other)
//   {ns}:hwm:{N}  = the same mark as versions before this one kept it:
//                   read (the higher of the two fences counts), no longer
//                   written
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lease/lease_store.hpp"
#include "lease/redis_client.hpp"

namespace katsubushi::lease {

// What hold_and_fence() found, and how many replicas acknowledged it.
struct FenceHold {
  KeyHold hold = KeyHold::gone;
  long long replicas_acked = 0;  // WAIT's answer; 0 when no replica was asked for
};

// WAIT after each fence raise: `replicas` (0: none asked), within `timeout`.
struct ReplicaWait {
  int replicas = 0;
  std::chrono::milliseconds timeout{0};
};

// A random (version 4) uuid: what our keys hold unless one is given.
std::string random_uuid();

// raus's parsePayload: exactly "uuid:N", N an unsigned decimal.
struct RausPayload {
  std::string_view uuid;
  std::uint64_t worker = 0;
};
std::optional<RausPayload> parse_raus_payload(std::string_view payload) noexcept;

class RausKeys {
 public:
  // `redis` outlives this; `uuid` is what our keys hold.
  RausKeys(RedisClient& redis, std::string uuid, std::chrono::seconds expiry);

  std::string id_key(std::uint32_t worker) const;
  std::string hwm_key(std::uint32_t worker) const;         // {{ns}:id:{N}}:hwm
  std::string legacy_hwm_key(std::uint32_t worker) const;  // {ns}:hwm:{N}
  std::string broadcast_channel() const;
  // Whether the fence and the id key hash to one slot (a namespace with
  // braces may keep them apart): a Redis Cluster needs it.
  bool fence_shares_slot() const;
  const std::string& uuid() const noexcept { return uuid_; }

  // SET {ns}:id:{N} uuid NX EX expiry: true when claimed, false when held.
  // A SET given up on (no reply in time) is undone right behind it, should
  // a stopped Redis resume. Throws RedisError.
  bool claim(std::uint32_t worker);
  // PUBLISH {ns}:broadcast "uuid:N", as raus announces an id in use.
  // Throws RedisError.
  void announce(std::uint32_t worker);
  // Check-and-extend, atomically on the one key. Throws RedisError.
  KeyHold extend(std::uint32_t worker);
  // The fence a holder of N starts above: the higher of the two hwm keys;
  // -1 when neither exists. With it, how long the node that keeps it has
  // been up (INFO server's uptime_in_seconds, on the same connection):
  // a node restarted from a snapshot may hold a fence older than the one
  // last raised. Throws RedisError, or UnfenceableId when a key is not a mark.
  FenceRead read_fence(std::uint32_t worker);
  // Atomically: if {ns}:id:{N} holds our uuid, extend it and raise the
  // fence to `mark`; then, when `wait` asks for replicas, WAIT for them on
  // the same node. Throws RedisError.
  FenceHold hold_and_fence(std::uint32_t worker, std::int64_t mark, const ReplicaWait& wait);
  // The store's clock (TIME), in microseconds since 1970. Throws RedisError.
  std::int64_t store_time_us();
  // Deletes {ns}:id:{N} if it still holds our uuid: true when deleted.
  // With `final_mark`, the fence is set to it in the same script (see
  // LeaseKeeper::stop_and_release). Throws RedisError.
  bool release(std::uint32_t worker, std::optional<std::int64_t> final_mark = std::nullopt);

 private:
  // A GET reply of `key` as a mark; -1 when absent. Throws as read_fence().
  std::int64_t parse_mark(const std::string& key, const RedisReply& hwm, std::uint32_t worker);
  // "Redis <url>: <what>: <the error reply, or an unexpected reply>".
  RedisError failure(const std::string& what, const RedisReply& r) const;

  RedisClient& redis_;
  const std::string uuid_;
  const std::string expiry_seconds_;
};

}  // namespace katsubushi::lease
