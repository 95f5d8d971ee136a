#include "lease/raus_keys.hpp"

#include <array>
#include <charconv>
#include <random>
#include <utility>

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

// Raises the hwm to ARGV[1] unless it already holds as much; a value that is
// not a number is replaced. No expiry: the fence outlives every lease.
// 1: raised; 0: it already held as much.
constexpr const char* kRaiseScript =
    "local cur = tonumber(redis.call('GET', KEYS[1])) "
    "if cur == nil or tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) return 1 "
    "end "
    "return 0";

// EVAL script 1 key ...: the key is argv[3].
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
  return redis_.url().ns + ":hwm:" + std::to_string(worker);
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

std::int64_t RausKeys::read_fence(std::uint32_t worker) {
  const std::string key = hwm_key(worker);
  const RedisReply hwm = redis_.key_command({"GET", key});
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

void RausKeys::raise_fence(std::uint32_t worker, std::int64_t mark) {
  const RedisReply r = redis_.key_command(
      {"EVAL", kRaiseScript, "1", hwm_key(worker), std::to_string(mark)}, kEvalKeyIndex);
  if (r.type != RedisReply::Type::integer) throw failure("raising " + hwm_key(worker), r);
}

bool RausKeys::release(std::uint32_t worker) {
  const RedisReply r =
      redis_.key_command({"EVAL", kReleaseScript, "1", id_key(worker), uuid_}, kEvalKeyIndex);
  return r.type == RedisReply::Type::integer && r.integer == 1;
}

}  // namespace katsubushi::lease
