// raus's key protocol in Redis, one call per step, over a RedisClient: the
// keys and the payload of raus's scheme, the commands and scripts that claim,
// refresh, fence and release a worker id. No thread, no timing, no state
// beyond the names: LeaseKeeper decides when each step runs.
//   {ns}:id:{N}   = the holder's uuid, with an expiry   (SET NX EX to claim)
//   {ns}:broadcast  "{uuid}:{N}"                         (PUBLISH on refresh)
//   {ns}:hwm:{N}  = the holder's reserved-until mark     (beyond raus; only raised)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lease/redis_client.hpp"

namespace katsubushi::lease {

// What a refresh found in {ns}:id:{N}.
enum class KeyHold : std::uint8_t {
  kept,   // our uuid: reset with a fresh expiry
  gone,   // expired (left as it is)
  taken,  // another uuid (left as it is)
};

// An id whose {ns}:hwm:{N} is not a mark: it cannot be fenced.
class UnfenceableId : public RedisError {
 public:
  using RedisError::RedisError;
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
  std::string hwm_key(std::uint32_t worker) const;
  std::string broadcast_channel() const;
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
  // GET {ns}:hwm:{N}: the fence a holder of N starts above; -1 when there
  // is none. Throws RedisError, or UnfenceableId when it is not a mark.
  std::int64_t read_fence(std::uint32_t worker);
  // Raises {ns}:hwm:{N} to `mark` unless it holds as much. Throws RedisError.
  void raise_fence(std::uint32_t worker, std::int64_t mark);
  // Deletes {ns}:id:{N} if it still holds our uuid: true when deleted.
  // Throws RedisError.
  bool release(std::uint32_t worker);

 private:
  // "Redis <url>: <what>: <the error reply, or an unexpected reply>".
  RedisError failure(const std::string& what, const RedisReply& r) const;

  RedisClient& redis_;
  const std::string uuid_;
  const std::string expiry_seconds_;
};

}  // namespace katsubushi::lease
