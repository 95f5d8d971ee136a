#include "lease/raus_keys.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <random>
#include <utility>
#include <vector>

namespace katsubushi::lease {

namespace {

// raus's hold step is MULTI; GETSET key uuid; EXPIRE key ttl; EXEC, and the
// lease is lost when GETSET returned anything but our uuid. This script
// decides the same atomically on the one key (so it is cluster-safe) without
// GETSET's side effect: a key that expired or holds another uuid is left as
// it is (overwriting another holder's key would take its id by force, and
// taking back a key that expired would skip reading the id's fence).
// 1: ours, reset with a fresh expiry; 0: gone; -1: another uuid.
constexpr const char* kHoldScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end "
    "if v then return -1 end "
    "return 0";

// Deletes the key only if it still holds our uuid (raus deletes blindly).
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

// A clean stop: if the id key (KEYS[1]) holds our uuid (ARGV[1]), the fence
// (KEYS[2]) is set to our last issued timestamp (ARGV[2]), lower than the
// lease's end it held, and the key deleted, in one step: nothing of ours
// is above that mark, and nothing more will be issued.
constexpr const char* kReleaseAtMarkScript =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[2], ARGV[2]) "
    "return redis.call('DEL', KEYS[1])";

// The hold step and the fence in one: if {ns}:id:{N} (KEYS[1]) holds our
// uuid (ARGV[1]), its expiry is reset (ARGV[2] s) and the fence KEYS[2] is
// raised to ARGV[3] (a value that is not a number is replaced); otherwise
// nothing is written, so a holder that lost its key can never raise the
// fence a later holder starts above. Both keys share a hash slot (the fence
// carries the id key as its hash tag): one node runs it.
// 1: ours, extended and fenced; 0: gone; -1: another uuid.
constexpr const char* kHoldAndFenceScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v ~= ARGV[1] then if v then return -1 end return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
    "local cur = tonumber(redis.call('GET', KEYS[2])) "
    "if cur == nil or tonumber(ARGV[3]) > cur then redis.call('SET', KEYS[2], ARGV[3]) end "
    "return 1";

// EVAL script N keys ...: the first key is argv[3].
constexpr std::size_t kEvalKeyIndex = 3;

// How much of a bad hwm value an error message quotes.
constexpr std::size_t kQuotedValueBytes = 40;

}  // namespace

std::string random_uuid() {
  std::random_device rd;
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 4) {
    const std::uint32_t v = rd();
    for (std::size_t k = 0; k < 4; ++k) b[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

std::optional<RausPayload> parse_raus_payload(std::string_view payload) noexcept {
  const auto colon = payload.find(':');
  if (colon == std::string_view::npos || payload.find(':', colon + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view n = payload.substr(colon + 1);
  RausPayload out{payload.substr(0, colon), 0};
  const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), out.worker);
  if (n.empty() || ec != std::errc{} || end != n.data() + n.size()) return std::nullopt;
  return out;
}

RausKeys::RausKeys(RedisClient& redis, std::string uuid, std::chrono::seconds expiry)
    : redis_(redis), uuid_(std::move(uuid)), expiry_seconds_(std::to_string(expiry.count())) {}

std::string RausKeys::id_key(std::uint32_t worker) const {
  return redis_.url().ns + ":id:" + std::to_string(worker);
}

std::string RausKeys::hwm_key(std::uint32_t worker) const {
  // In the id key's hash slot: its own hash tag when the namespace brings
  // one ("a{b}:id:5" hashes "b"), else the whole id key as the tag.
  const std::string id = id_key(worker);
  const auto open = id.find('{');
  const bool tagged = open != std::string::npos && id.find('}', open + 1) > open + 1 &&
                      id.find('}', open + 1) != std::string::npos;
  return tagged ? id + ":hwm" : "{" + id + "}:hwm";
}

std::string RausKeys::legacy_hwm_key(std::uint32_t worker) const {
  return redis_.url().ns + ":hwm:" + std::to_string(worker);
}

bool RausKeys::fence_shares_slot() const {
  return key_slot(hwm_key(1)) == key_slot(id_key(1));
}

std::string RausKeys::broadcast_channel() const { return redis_.url().ns + ":broadcast"; }

RedisError RausKeys::failure(const std::string& what, const RedisReply& r) const {
  return RedisError("Redis " + redis_.url().redacted() + ": " + what + ": " +
                    (r.is_error() ? r.str : std::string("an unexpected reply")));
}

bool RausKeys::claim(std::uint32_t worker) {
  const std::string key = id_key(worker);
  // Given up on (no reply in time), the SET may still run when a stopped
  // Redis resumes, and hold the id for a whole expiry for a uuid nobody
  // refreshes: the release runs right behind it then.
  const RedisReply r = redis_.key_command_or_undo({"SET", key, uuid_, "NX", "EX", expiry_seconds_},
                                                  {"EVAL", kReleaseScript, "1", key, uuid_});
  if (r.is_status("OK")) return true;
  if (r.is_nil()) return false;  // held
  throw failure("SET " + key + " NX", r);
}

void RausKeys::announce(std::uint32_t worker) {
  const std::string channel = broadcast_channel();
  const RedisReply r =
      redis_.any_command({"PUBLISH", channel, uuid_ + ":" + std::to_string(worker)});
  if (r.type != RedisReply::Type::integer) throw failure("PUBLISH " + channel, r);
}

KeyHold RausKeys::extend(std::uint32_t worker) {
  const RedisReply r = redis_.key_command(
      {"EVAL", kHoldScript, "1", id_key(worker), uuid_, expiry_seconds_}, kEvalKeyIndex);
  if (r.type == RedisReply::Type::integer) {
    if (r.integer == 1) return KeyHold::kept;
    if (r.integer == 0) return KeyHold::gone;
    if (r.integer == -1) return KeyHold::taken;
  }
  throw failure("refreshing " + id_key(worker), r);
}

std::int64_t RausKeys::parse_mark(const std::string& key, const RedisReply& hwm,
                                  std::uint32_t worker) {
  if (hwm.is_nil()) return -1;
  if (hwm.type != RedisReply::Type::string) throw failure("GET " + key, hwm);
  std::int64_t fence = -1;
  const auto [end, ec] = std::from_chars(hwm.str.data(), hwm.str.data() + hwm.str.size(), fence);
  if (ec != std::errc{} || end != hwm.str.data() + hwm.str.size() || fence < 0) {
    // Neither trusted nor ignored: without its fence the id could repeat
    // another holder's ids. An operator fixes the key.
    throw UnfenceableId(key + " holds \"" + hwm.str.substr(0, kQuotedValueBytes) +
                        "\", not a mark (ms since 2015-01-01): worker id " +
                        std::to_string(worker) + " cannot be fenced; fix or delete that key");
  }
  return fence;
}

FenceRead RausKeys::read_fence(std::uint32_t worker) {
  FenceRead out;
  const std::string key = hwm_key(worker);
  RedisReply info;
  const RedisReply hwm = redis_.key_command_then({"GET", key}, 1, {"INFO", "server"}, info);
  out.fence = parse_mark(key, hwm, worker);
  if (info.type == RedisReply::Type::string) {
    constexpr std::string_view kField = "uptime_in_seconds:";
    if (const auto at = info.str.find(kField); at != std::string::npos) {
      const char* first = info.str.data() + at + kField.size();
      std::int64_t uptime = -1;
      const auto [end, ec] = std::from_chars(first, info.str.data() + info.str.size(), uptime);
      if (ec == std::errc{} && end != first && uptime >= 0) out.store_uptime_s = uptime;
    }
  }
  // The legacy key too: an earlier version of this daemon in the fleet
  // fences only there.
  const std::string legacy = legacy_hwm_key(worker);
  out.fence = std::max(out.fence, parse_mark(legacy, redis_.key_command({"GET", legacy}), worker));
  return out;
}

FenceHold RausKeys::hold_and_fence(std::uint32_t worker, std::int64_t mark,
                                   const ReplicaWait& wait) {
  const std::vector<std::string> argv = {"EVAL",          kHoldAndFenceScript, "2",
                                         id_key(worker),  hwm_key(worker),     uuid_,
                                         expiry_seconds_, std::to_string(mark)};
  RedisReply acked;
  const RedisReply r =
      wait.replicas > 0
          ? redis_.key_command_then(argv, kEvalKeyIndex,
                                    {"WAIT", std::to_string(wait.replicas),
                                     std::to_string(std::max<std::int64_t>(1, wait.timeout.count()))},
                                    acked)
          : redis_.key_command(argv, kEvalKeyIndex);
  if (r.type != RedisReply::Type::integer || r.integer < -1 || r.integer > 1) {
    throw failure("refreshing " + id_key(worker) + " and " + hwm_key(worker), r);
  }
  FenceHold out;
  out.hold = r.integer == 1 ? KeyHold::kept : r.integer == 0 ? KeyHold::gone : KeyHold::taken;
  if (wait.replicas > 0 && out.hold == KeyHold::kept) {
    if (acked.type != RedisReply::Type::integer) throw failure("WAIT", acked);
    out.replicas_acked = acked.integer;
  }
  return out;
}

std::int64_t RausKeys::store_time_us() {
  const RedisReply r = redis_.any_command({"TIME"});
  std::int64_t sec = -1;
  std::int64_t usec = -1;
  if (r.type == RedisReply::Type::array && r.elements.size() == 2) {
    const auto num = [](const RedisReply& e, std::int64_t& v) {
      const auto [end, ec] = std::from_chars(e.str.data(), e.str.data() + e.str.size(), v);
      return e.type == RedisReply::Type::string && ec == std::errc{} &&
             end == e.str.data() + e.str.size();
    };
    if (num(r.elements[0], sec) && num(r.elements[1], usec) && sec >= 0 && usec >= 0) {
      return sec * 1'000'000 + usec;
    }
  }
  throw failure("TIME", r);
}

bool RausKeys::release(std::uint32_t worker, std::optional<std::int64_t> final_mark) {
  const RedisReply r =
      final_mark
          ? redis_.key_command({"EVAL", kReleaseAtMarkScript, "2", id_key(worker), hwm_key(worker),
                                uuid_, std::to_string(*final_mark)},
                               kEvalKeyIndex)
          : redis_.key_command({"EVAL", kReleaseScript, "1", id_key(worker), uuid_},
                               kEvalKeyIndex);
  return r.type == RedisReply::Type::integer && r.integer == 1;
}

}  // namespace katsubushi::lease
