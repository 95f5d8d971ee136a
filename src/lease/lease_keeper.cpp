#include "lease/lease_keeper.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <utility>

namespace katsubushi::lease {

namespace {

// Extends our key only if it still holds our uuid: 1 held, 0 gone, -1 taken.
// (raus GETSETs the key back to its uuid; overwriting a key that expired
// would take the id back without reading its fence, so this only checks.)
constexpr const char* kRefreshScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "if v then return -1 end return 0";

// Deletes our key only if it still holds our uuid.
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

// Raises the hwm to ARGV[1] unless it is already higher; returns what it holds.
constexpr const char* kRaiseScript =
    "local cur = tonumber(redis.call('GET', KEYS[1])) "
    "if cur == nil or tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end "
    "return redis.call('GET', KEYS[1])";

std::string random_uuid(std::mt19937_64& random) {
  const std::uint64_t hi = random();
  const std::uint64_t lo = random();
  std::uint8_t b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  return out;
}

std::mt19937_64 seeded() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd()};
  return std::mt19937_64(seq);
}

}  // namespace

LeaseKeeper::LeaseKeeper(LeaseOptions options, id::Clock& clock, LeaseListener& listener)
    : options_(std::move(options)),
      refresh_interval_(options_.refresh_interval.count() > 0
                            ? options_.refresh_interval
                            : std::min<std::chrono::milliseconds>(
                                  std::chrono::seconds(1),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(
                                      options_.expiry) / 3)),
      margin_(options_.margin.count() > 0
                  ? options_.margin
                  : std::chrono::duration_cast<std::chrono::milliseconds>(options_.expiry) / 4),
      clock_(clock),
      listener_(listener),
      redis_(options_.url, options_.call_timeout),
      random_(seeded()) {
  uuid_ = random_uuid(random_);
}

LeaseKeeper::~LeaseKeeper() { stop_and_release(); }

std::string LeaseKeeper::id_key(std::uint32_t worker) const {
  return options_.url.ns + ":id:" + std::to_string(worker);
}

std::string LeaseKeeper::hwm_key(std::uint32_t worker) const {
  return options_.url.ns + ":hwm:" + std::to_string(worker);
}

std::int64_t LeaseKeeper::valid_until(std::int64_t started_unix_ms) const {
  return started_unix_ms +
         std::chrono::duration_cast<std::chrono::milliseconds>(options_.expiry).count() -
         margin_.count();
}

std::optional<std::uint32_t> LeaseKeeper::try_claim(std::optional<std::uint32_t> prefer) {
  const std::uint32_t lo = options_.min_worker_id;
  const std::uint32_t n = options_.max_worker_id - lo + 1;
  const auto offset = static_cast<std::uint32_t>(random_() % n);
  const std::string ttl = std::to_string(options_.expiry.count());
  for (std::uint32_t i = 0; i <= n; ++i) {
    std::uint32_t candidate = 0;
    if (i == 0) {
      if (!prefer) continue;
      candidate = *prefer;
    } else {
      candidate = lo + (offset + i - 1) % n;
    }
    const RedisReply r =
        redis_.key_command({"SET", id_key(candidate), uuid_, "NX", "EX", ttl});
    if (r.is_error()) {
      throw RedisError("Redis " + options_.url.redacted() + ": SET " + id_key(candidate) +
                       ": " + r.str);
    }
    if (r.type == RedisReply::Type::status) return candidate;  // OK
  }
  return std::nullopt;
}

void LeaseKeeper::took(std::uint32_t worker, std::int64_t started_unix_ms) {
  const RedisReply hwm = redis_.key_command({"GET", hwm_key(worker)});
  std::int64_t fence = -1;
  if (hwm.type == RedisReply::Type::string) {
    const auto [end, ec] =
        std::from_chars(hwm.str.data(), hwm.str.data() + hwm.str.size(), fence);
    if (ec != std::errc{} || end != hwm.str.data() + hwm.str.size() || fence < 0) {
      // Neither trusted nor ignored: without the fence the id could repeat
      // another holder's ids. Give the id back and say what to fix.
      redis_.key_command({"EVAL", kReleaseScript, "1", id_key(worker), uuid_}, 3);
      throw RedisError(hwm_key(worker) + " holds \"" + hwm.str.substr(0, 40) +
                       "\", not a mark (ms since 2015-01-01): worker id " +
                       std::to_string(worker) + " cannot be fenced; fix or delete that key");
    }
  } else if (hwm.is_error()) {
    throw RedisError("Redis " + options_.url.redacted() + ": GET " + hwm_key(worker) + ": " +
                     hwm.str);
  }
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    changed = stats_.worker_id != 0;
    if (changed) ++stats_.lease_changes;
    stats_.state = LeaseState::held;
    stats_.worker_id = worker;
    stats_.valid_until_unix_ms = valid_until(started_unix_ms);
    fence_ = fence;
  }
  spdlog::info("worker id {} claimed from {} (uuid {}){}", worker, options_.url.redacted(), uuid_,
               fence >= 0 ? ", fenced above " + std::to_string(fence) : std::string());
  listener_.lease_held(worker, valid_until(started_unix_ms), fence);
  write_hwm();
}

void LeaseKeeper::write_hwm() {
  std::uint32_t worker = 0;
  {
    std::lock_guard lock(mu_);
    worker = stats_.worker_id;
  }
  const std::int64_t mark = listener_.hwm_to_write();
  const RedisReply r =
      redis_.key_command({"EVAL", kRaiseScript, "1", hwm_key(worker), std::to_string(mark)}, 3);
  if (r.is_error()) {
    throw RedisError("Redis " + options_.url.redacted() + ": raising " + hwm_key(worker) + ": " +
                     r.str);
  }
  listener_.hwm_written(mark);
}

bool LeaseKeeper::refresh(std::int64_t started_unix_ms) {
  std::uint32_t worker = 0;
  {
    std::lock_guard lock(mu_);
    worker = stats_.worker_id;
  }
  // raus's broadcast, so raus processes listening learn the id is in use.
  redis_.any_command({"PUBLISH", options_.url.ns + ":broadcast",
                      uuid_ + ":" + std::to_string(worker)});
  const RedisReply r = redis_.key_command(
      {"EVAL", kRefreshScript, "1", id_key(worker), uuid_,
       std::to_string(options_.expiry.count())},
      3);
  if (r.is_error()) {
    throw RedisError("Redis " + options_.url.redacted() + ": refreshing " + id_key(worker) +
                     ": " + r.str);
  }
  if (r.type != RedisReply::Type::integer) {
    throw RedisError("Redis " + options_.url.redacted() + ": refreshing " + id_key(worker) +
                     ": an unexpected reply");
  }
  if (r.integer != 1) {
    spdlog::error("worker id {}: {}", worker,
                  r.integer == 0 ? "the key expired" : "the key holds another uuid");
    return false;
  }
  {
    std::lock_guard lock(mu_);
    stats_.valid_until_unix_ms = valid_until(started_unix_ms);
  }
  listener_.lease_held(worker, valid_until(started_unix_ms), -1);
  write_hwm();
  return true;
}

std::uint32_t LeaseKeeper::claim_at_start() {
  const std::int64_t started = clock_.now_unix_ms();
  std::optional<std::uint32_t> worker;
  try {
    worker = try_claim(std::nullopt);
    if (!worker) {
      throw LeaseError("no free worker id in " + std::to_string(options_.min_worker_id) + ".." +
                       std::to_string(options_.max_worker_id) + " at " +
                       options_.url.redacted() + ": every key " + options_.url.ns +
                       ":id:N of the range is held");
    }
    took(*worker, started);
  } catch (const RedisError& e) {
    throw LeaseError(std::string("cannot take a worker id: ") + e.what());
  }
  return *worker;
}

bool LeaseKeeper::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void LeaseKeeper::run() {
  std::chrono::milliseconds backoff = refresh_interval_;
  while (wait_for(backoff)) {
    LeaseState state{};
    std::uint32_t worker = 0;
    std::int64_t until = 0;
    {
      std::lock_guard lock(mu_);
      state = stats_.state;
      worker = stats_.worker_id;
      until = stats_.valid_until_unix_ms;
    }
    const std::int64_t started = clock_.now_unix_ms();
    if (state == LeaseState::held) {
      bool held = false;
      try {
        held = refresh(started);
        backoff = refresh_interval_;
      } catch (const RedisError& e) {
        redis_.disconnect();
        std::lock_guard lock(mu_);
        ++stats_.refresh_failures;
        // The first failure, then one in 30: Redis may be gone for minutes.
        if (stats_.refresh_failures % 30 == 1) {
          spdlog::warn("lease refresh failed ({} so far): {}", stats_.refresh_failures, e.what());
        }
        held = clock_.now_unix_ms() < until;
      }
      if (!held || clock_.now_unix_ms() >= until) {
        {
          std::lock_guard lock(mu_);
          stats_.state = LeaseState::lost;
        }
        listener_.lease_lost(held ? "its end passed without a refresh"
                                  : "the key expired or another holder took it");
        backoff = refresh_interval_;
      }
      continue;
    }
    // Lost (or never held after start): claim again, the same id first.
    try {
      if (const auto got = try_claim(worker == 0 ? std::nullopt : std::optional(worker))) {
        took(*got, started);
        backoff = refresh_interval_;
        continue;
      }
      spdlog::error("no free worker id in {}..{}: trying again", options_.min_worker_id,
                    options_.max_worker_id);
    } catch (const RedisError& e) {
      redis_.disconnect();
      spdlog::warn("claiming a worker id failed: {}", e.what());
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void LeaseKeeper::start() { thread_ = std::thread([this] { run(); }); }

void LeaseKeeper::stop_and_release() {
  {
    std::lock_guard lock(mu_);
    if (released_) return;
    released_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::uint32_t worker = 0;
  LeaseState state{};
  {
    std::lock_guard lock(mu_);
    worker = stats_.worker_id;
    state = stats_.state;
  }
  if (worker == 0 || state != LeaseState::held) return;
  try {
    const RedisReply r = redis_.key_command({"EVAL", kReleaseScript, "1", id_key(worker), uuid_}, 3);
    if (r.type == RedisReply::Type::integer && r.integer == 1) {
      spdlog::info("worker id {} released", worker);
    } else {
      spdlog::warn("worker id {}: not released (the key no longer holds our uuid)", worker);
    }
  } catch (const RedisError& e) {
    spdlog::warn("worker id {}: not released ({}); it expires by itself", worker, e.what());
  }
}

LeaseStats LeaseKeeper::stats() const {
  LeaseStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
  }
  // Past its end a lease is lost, whether or not the thread, waiting on a
  // call, has noticed yet: the generator already refuses.
  if (s.state == LeaseState::held && clock_.now_unix_ms() >= s.valid_until_unix_ms) {
    s.state = LeaseState::lost;
  }
  return s;
}

}  // namespace katsubushi::lease
