#include "lease/lease_keeper.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "id/layout.hpp"

namespace katsubushi::lease {

namespace {

using std::chrono::milliseconds;

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

// An id whose {ns}:hwm:{N} is not a mark: given back, and another one tried.
class UnfenceableId : public RedisError {
 public:
  using RedisError::RedisError;
};

// Warnings that repeat while Redis is away: the first, then one in this many.
constexpr std::uint64_t kLogEvery = 30;

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

std::uint64_t random_seed() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) | rd();
}

milliseconds resolved_margin(const LeaseOptions& o) {
  if (o.margin.count() > 0) return o.margin;
  return std::chrono::duration_cast<milliseconds>(o.expiry) / kMarginDivisor;
}

milliseconds resolved_refresh(const LeaseOptions& o) {
  if (o.refresh_interval.count() > 0) return o.refresh_interval;
  return std::min<milliseconds>(
      kRausHoldInterval, std::chrono::duration_cast<milliseconds>(o.expiry) / kRefreshesPerExpiry);
}

milliseconds resolved_call_timeout(const LeaseOptions& o, milliseconds margin) {
  if (o.call_timeout.count() > 0) return o.call_timeout;
  return std::max(milliseconds(1), std::min(kDefaultCallTimeout, margin / kCallTimeoutPerMargin));
}

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

// raus's parsePayload: exactly "uuid:N", N an unsigned decimal.
bool parse_payload(std::string_view payload, std::string_view& uuid, std::uint64_t& worker) {
  const auto colon = payload.find(':');
  if (colon == std::string_view::npos || payload.find(':', colon + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view n = payload.substr(colon + 1);
  const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), worker);
  if (n.empty() || ec != std::errc{} || end != n.data() + n.size()) return false;
  uuid = payload.substr(0, colon);
  return true;
}

}  // namespace

LeaseKeeper::LeaseKeeper(LeaseOptions options, id::Clock& clock, LeaseListener& listener)
    : options_(std::move(options)),
      margin_(resolved_margin(options_)),
      refresh_interval_(resolved_refresh(options_)),
      call_timeout_(resolved_call_timeout(options_, margin_)),
      clock_(clock),
      listener_(listener),
      redis_(options_.url, call_timeout_),
      uuid_(options_.uuid.empty() ? random_uuid() : options_.uuid),
      random_(options_.seed ? *options_.seed : random_seed()) {
  const auto bad = [](const std::string& why) { throw LeaseError("worker id lease: " + why); };
  if (options_.min_worker_id < 1 || options_.min_worker_id > options_.max_worker_id ||
      options_.max_worker_id > id::kMaxWorkerId) {
    bad("want 1 <= -min-worker-id <= -max-worker-id <= " + std::to_string(id::kMaxWorkerId) +
        ", not " + range_text());
  }
  const auto expiry = std::chrono::duration_cast<milliseconds>(options_.expiry);
  if (options_.expiry.count() < 1) bad("the expiry must be at least 1 s");
  if (margin_ >= expiry) {
    bad("the margin (" + ms_text(margin_) + ") must be under the expiry (" + ms_text(expiry) + ")");
  }
  if (refresh_interval_ >= expiry - margin_) {
    bad("the refresh interval (" + ms_text(refresh_interval_) +
        ") must be under expiry - margin (" + ms_text(expiry - margin_) + ")");
  }
  if (call_timeout_ > margin_ / kCallTimeoutPerMargin) {
    bad("the call timeout (" + ms_text(call_timeout_) + ") must be at most half the margin (" +
        ms_text(margin_) + ")");
  }
  if (options_.learn_time.count() < 0) bad("the learn time cannot be negative");
  if (options_.max_backoff.count() <= 0) bad("the longest backoff must be positive");
  if (uuid_.find(':') != std::string::npos)
    bad("a uuid cannot hold ':' (raus's payload is uuid:N)");
}

LeaseKeeper::~LeaseKeeper() { stop_and_release(); }

std::string LeaseKeeper::id_key(std::uint32_t worker) const {
  return options_.url.ns + ":id:" + std::to_string(worker);
}

std::string LeaseKeeper::hwm_key(std::uint32_t worker) const {
  return options_.url.ns + ":hwm:" + std::to_string(worker);
}

std::string LeaseKeeper::range_text() const {
  return std::to_string(options_.min_worker_id) + ".." + std::to_string(options_.max_worker_id);
}

std::int64_t LeaseKeeper::valid_until(std::int64_t started_unix_ms) const {
  return started_unix_ms + std::chrono::duration_cast<milliseconds>(options_.expiry).count() -
         margin_.count();
}

std::vector<bool> LeaseKeeper::learn_used_ids() {
  std::vector<bool> used(id::kMaxWorkerId + 1, false);
  if (options_.learn_time.count() == 0) return used;
  const std::string channel = options_.url.ns + ":broadcast";
  bool duplicate = false;
  std::size_t heard = 0;
  std::size_t ignored = 0;
  try {
    const bool whole = redis_.listen(channel, options_.learn_time, [&](std::string_view payload) {
      std::string_view uuid;
      std::uint64_t worker = 0;
      if (!parse_payload(payload, uuid, worker)) {
        ++ignored;
        return;
      }
      if (uuid == uuid_) duplicate = true;
      if (worker <= id::kMaxWorkerId && !used[worker]) {
        used[worker] = true;
        ++heard;
      }
    });
    if (!whole) spdlog::warn("listening on {} ended early; claiming with what was heard", channel);
  } catch (const RedisError& e) {
    spdlog::warn("cannot listen on {}: {}", channel, e.what());
  }
  if (duplicate) {
    // raus stops here too: two keepers with one uuid could not tell their keys apart.
    throw LeaseError("another process announces our uuid " + uuid_ + " on " + channel);
  }
  if (ignored > 0) spdlog::warn("{}: ignored {} messages that are not uuid:N", channel, ignored);
  if (heard > 0) spdlog::info("{} worker ids announced in use on {}", heard, channel);
  return used;
}

std::optional<std::uint32_t> LeaseKeeper::try_claim(std::optional<std::uint32_t> prefer,
                                                    std::vector<bool> used) {
  const std::string ttl = std::to_string(options_.expiry.count());
  const auto set_nx = [&](std::uint32_t worker) {
    // Given up on (no reply in time), the SET may still run when a stopped
    // Redis resumes, and hold the id for a whole expiry for a uuid nobody
    // refreshes: the release runs right behind it then.
    const RedisReply r =
        redis_.key_command_or_undo({"SET", id_key(worker), uuid_, "NX", "EX", ttl},
                                   {"EVAL", kReleaseScript, "1", id_key(worker), uuid_});
    if (r.is_status("OK")) return true;
    if (r.is_nil()) return false;  // held
    throw RedisError("Redis " + options_.url.redacted() + ": SET " + id_key(worker) +
                     " NX: " + (r.is_error() ? r.str : std::string("an unexpected reply")));
  };
  if (prefer) {
    if (set_nx(*prefer)) return prefer;
    // Still ours: the lease ran out here (calls failing past its end) but
    // not in Redis. Nobody held the id meanwhile, so it is taken back as is
    // rather than left to expire while we take another.
    if (extend(*prefer) == Hold::kept) return prefer;
    used[*prefer] = true;
  }
  const std::uint32_t lo = options_.min_worker_id;
  const std::uint32_t n = options_.max_worker_id - lo + 1;
  std::vector<std::uint32_t> candidates;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return std::nullopt;
    }
    candidates.clear();
    const std::uint32_t offset = std::uniform_int_distribution<std::uint32_t>(0, n - 1)(random_);
    for (std::uint32_t j = 0; j < n && candidates.size() < kRausMaxCandidates; ++j) {
      const std::uint32_t worker = lo + (offset + j) % n;
      if (!used[worker]) candidates.push_back(worker);
    }
    if (candidates.empty()) return std::nullopt;
    const std::uint32_t worker =
        candidates[std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(random_)];
    if (set_nx(worker)) return worker;
    used[worker] = true;
  }
}

void LeaseKeeper::took(std::uint32_t worker, std::int64_t started_unix_ms) {
  RedisReply hwm;
  try {
    hwm = redis_.key_command({"GET", hwm_key(worker)});
    if (hwm.is_error() || !(hwm.is_nil() || hwm.type == RedisReply::Type::string)) {
      throw RedisError("Redis " + options_.url.redacted() + ": GET " + hwm_key(worker) + ": " +
                       (hwm.is_error() ? hwm.str : std::string("an unexpected reply")));
    }
  } catch (const RedisError&) {
    // No fence, no lease: the id goes back rather than wait for its expiry.
    release(worker);
    throw;
  }
  std::int64_t fence = -1;
  if (hwm.type == RedisReply::Type::string) {
    const auto [end, ec] = std::from_chars(hwm.str.data(), hwm.str.data() + hwm.str.size(), fence);
    if (ec != std::errc{} || end != hwm.str.data() + hwm.str.size() || fence < 0) {
      // Neither trusted nor ignored: without its fence the id could repeat
      // another holder's ids. The id goes back; an operator fixes the key.
      release(worker);
      throw UnfenceableId(hwm_key(worker) + " holds \"" + hwm.str.substr(0, 40) +
                          "\", not a mark (ms since 2015-01-01): worker id " +
                          std::to_string(worker) + " cannot be fenced; fix or delete that key");
    }
  }
  const std::int64_t until = valid_until(started_unix_ms);
  {
    std::lock_guard lock(mu_);
    if (stats_.worker_id != 0) ++stats_.lease_changes;
    stats_.state = LeaseState::held;
    stats_.worker_id = worker;
    stats_.valid_until_unix_ms = until;
    fence_ = fence;
  }
  spdlog::info("worker id {} claimed from {} (uuid {}){}", worker, options_.url.redacted(), uuid_,
               fence >= 0 ? ", fenced above " + std::to_string(fence) : std::string());
  listener_.lease_held(worker, until, fence);
  try {
    write_hwm(worker);
  } catch (const RedisError& e) {
    // The lease holds; the ceiling waits for the next refresh's mark.
    std::lock_guard lock(mu_);
    ++stats_.refresh_failures;
    spdlog::warn("worker id {}: writing {} failed: {}", worker, hwm_key(worker), e.what());
  }
}

void LeaseKeeper::write_hwm(std::uint32_t worker) {
  const std::int64_t mark = listener_.hwm_to_write();
  const RedisReply r =
      redis_.key_command({"EVAL", kRaiseScript, "1", hwm_key(worker), std::to_string(mark)}, 3);
  if (r.type != RedisReply::Type::integer) {
    throw RedisError("Redis " + options_.url.redacted() + ": raising " + hwm_key(worker) + ": " +
                     (r.is_error() ? r.str : std::string("an unexpected reply")));
  }
  listener_.hwm_written(mark);
}

LeaseKeeper::Hold LeaseKeeper::hold(std::uint32_t worker) {
  const std::string channel = options_.url.ns + ":broadcast";
  // raus's broadcast, so raus processes (and keepers) starting learn the id is in use.
  const RedisReply published =
      redis_.any_command({"PUBLISH", channel, uuid_ + ":" + std::to_string(worker)});
  if (published.type != RedisReply::Type::integer) {
    throw RedisError("Redis " + options_.url.redacted() + ": PUBLISH " + channel + ": " +
                     (published.is_error() ? published.str : std::string("an unexpected reply")));
  }
  return extend(worker);
}

LeaseKeeper::Hold LeaseKeeper::extend(std::uint32_t worker) {
  const RedisReply r = redis_.key_command(
      {"EVAL", kHoldScript, "1", id_key(worker), uuid_, std::to_string(options_.expiry.count())},
      3);
  if (r.type == RedisReply::Type::integer) {
    if (r.integer == 1) return Hold::kept;
    if (r.integer == 0) return Hold::gone;
    if (r.integer == -1) return Hold::taken;
  }
  throw RedisError("Redis " + options_.url.redacted() + ": refreshing " + id_key(worker) + ": " +
                   (r.is_error() ? r.str : std::string("an unexpected reply")));
}

void LeaseKeeper::release(std::uint32_t worker) {
  try {
    const RedisReply r =
        redis_.key_command({"EVAL", kReleaseScript, "1", id_key(worker), uuid_}, 3);
    if (r.type == RedisReply::Type::integer && r.integer == 1) {
      spdlog::info("worker id {} released", worker);
    } else {
      spdlog::warn("worker id {}: not released ({} no longer holds our uuid)", worker,
                   id_key(worker));
    }
  } catch (const RedisError& e) {
    spdlog::warn("worker id {}: not released ({}); the key expires by itself", worker, e.what());
  }
}

std::optional<std::uint32_t> LeaseKeeper::claim(std::optional<std::uint32_t> prefer,
                                                std::vector<bool> used, std::string& refused) {
  const std::int64_t started = clock_.now_unix_ms();
  for (;;) {
    const std::optional<std::uint32_t> worker = try_claim(prefer, used);
    if (!worker) return std::nullopt;
    try {
      took(*worker, started);
      return worker;
    } catch (const UnfenceableId& e) {
      spdlog::error("{}", e.what());
      refused += std::string(refused.empty() ? "" : "; ") + e.what();
      used[*worker] = true;
      prefer.reset();
    }
  }
}

std::uint32_t LeaseKeeper::claim_at_start() {
  if (thread_.joinable()) throw LeaseError("worker id lease: claim_at_start() after start()");
  std::vector<bool> used = learn_used_ids();
  try {
    std::string refused;
    const std::optional<std::uint32_t> worker = claim(std::nullopt, std::move(used), refused);
    if (!worker) {
      throw LeaseError("no free worker id in " + range_text() + " at " + options_.url.redacted() +
                       ": every key " + options_.url.ns +
                       ":id:N of the range is held (or announced on " + options_.url.ns +
                       ":broadcast)" + (refused.empty() ? "" : ", or refused: " + refused));
    }
    return *worker;
  } catch (const RedisError& e) {
    throw LeaseError(std::string("cannot take a worker id in ") + range_text() + ": " + e.what());
  }
}

bool LeaseKeeper::wait_for(milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void LeaseKeeper::lose(std::string_view why) {
  std::uint32_t worker = 0;
  {
    std::lock_guard lock(mu_);
    stats_.state = LeaseState::lost;
    worker = stats_.worker_id;
  }
  spdlog::warn("worker id {}: lease lost: {}", worker, why);
  listener_.lease_lost(why);
}

void LeaseKeeper::step(milliseconds& wait, milliseconds& backoff) {
  LeaseState state{};
  std::uint32_t worker = 0;
  std::int64_t until = 0;
  std::int64_t fence = -1;
  {
    std::lock_guard lock(mu_);
    state = stats_.state;
    worker = stats_.worker_id;
    until = stats_.valid_until_unix_ms;
    fence = fence_;
  }
  const std::int64_t started = clock_.now_unix_ms();
  if (state == LeaseState::held) {
    std::string failure;
    Hold held = Hold::kept;
    try {
      held = hold(worker);
    } catch (const RedisError& e) {
      failure = e.what();
      redis_.disconnect();
    }
    if (failure.empty() && held == Hold::kept) {
      const std::int64_t new_until = valid_until(started);
      {
        std::lock_guard lock(mu_);
        stats_.valid_until_unix_ms = new_until;
      }
      listener_.lease_held(worker, new_until, fence);
      try {
        write_hwm(worker);
      } catch (const RedisError& e) {
        redis_.disconnect();
        std::lock_guard lock(mu_);
        if (++stats_.refresh_failures % kLogEvery == 1) {
          spdlog::warn("worker id {}: writing {} failed ({} failures so far): {}", worker,
                       hwm_key(worker), stats_.refresh_failures, e.what());
        }
      }
      wait = backoff = refresh_interval_;
      return;
    }
    if (failure.empty()) {
      lose(held == Hold::gone ? id_key(worker) + " expired before its refresh"
                              : id_key(worker) + " holds another uuid");
      wait = std::chrono::milliseconds(0);  // claim again at once
      backoff = refresh_interval_;
      return;
    }
    {
      std::lock_guard lock(mu_);
      // The first failure, then one in 30: Redis may be gone for minutes.
      if (++stats_.refresh_failures % kLogEvery == 1) {
        spdlog::warn("worker id {}: lease refresh failed ({} so far): {}", worker,
                     stats_.refresh_failures, failure);
      }
    }
    const std::int64_t now = clock_.now_unix_ms();
    if (now >= until) {
      lose("no refresh succeeded before the lease's end: " + failure);
      wait = backoff = refresh_interval_;
      return;
    }
    // Back off, but look again at the lease's end to report the loss on time.
    backoff = std::min(backoff * 2, options_.max_backoff);
    wait = std::min(backoff, milliseconds(until - now));
    return;
  }
  // Claiming (never held, or lost): any id in the range, the last one first.
  std::string failure;
  try {
    std::string refused;
    if (claim(worker == 0 ? std::nullopt : std::optional(worker),
              std::vector<bool>(id::kMaxWorkerId + 1, false), refused)) {
      wait = backoff = refresh_interval_;
      return;
    }
    failure = "no free worker id in " + range_text() + (refused.empty() ? "" : "; " + refused);
  } catch (const RedisError& e) {
    redis_.disconnect();
    failure = e.what();
  }
  if (claim_failures_++ % kLogEvery == 0) {
    spdlog::warn("claiming a worker id failed ({} so far): {}", claim_failures_, failure);
  }
  backoff = std::min(backoff * 2, options_.max_backoff);
  wait = backoff;
}

void LeaseKeeper::run() {
  milliseconds backoff = refresh_interval_;
  milliseconds wait = stats().state == LeaseState::held ? refresh_interval_ : milliseconds(0);
  while (wait_for(wait)) {
    try {
      step(wait, backoff);
    } catch (const std::exception& e) {
      // A listener that threw, or no memory: never out of the thread.
      spdlog::error("worker id lease: {}", e.what());
      wait = backoff = std::min(backoff * 2, options_.max_backoff);
    } catch (...) {
      spdlog::error("worker id lease: an unknown exception");
      wait = backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

void LeaseKeeper::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

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
  {
    std::lock_guard lock(mu_);
    worker = stats_.worker_id;
  }
  // Whatever the state: a lease lost to timeouts may still be ours in Redis,
  // and the script deletes the key only if it holds our uuid.
  if (worker != 0) release(worker);
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
