#include "lease/lease_keeper.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "id/fault_injection.hpp"
#include "id/layout.hpp"
#include "lease/raus_keys.hpp"
#include "lease/redis_lease_store.hpp"

namespace katsubushi::lease {

namespace {

using std::chrono::milliseconds;

// Warnings that repeat while Redis is away: the first, then one in this many.
constexpr std::uint64_t kLogEvery = 30;

std::uint64_t random_seed() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) | rd();
}

// Redis at o.url, the options checked first.
std::unique_ptr<LeaseStore> open_redis(const LeaseOptions& o) {
  const LeaseTiming t = resolve_timing(o);
  const std::string uuid = o.uuid.empty() ? random_uuid() : o.uuid;
  check_lease_options(o, t, uuid);
  return std::make_unique<RedisLeaseStore>(o.url, uuid, o.expiry, t.call_timeout,
                                           o.wait_replicas);
}

}  // namespace

LeaseKeeper::LeaseKeeper(const LeaseOptions& options, id::Clock& clock, LeaseListener& listener)
    : LeaseKeeper(options, open_redis(options), clock, listener) {}

LeaseKeeper::LeaseKeeper(LeaseOptions options, std::unique_ptr<LeaseStore> store,
                         id::Clock& clock, LeaseListener& listener)
    : options_(std::move(options)),
      timing_(resolve_timing(options_)),
      clock_(clock),
      listener_(listener),
      store_(std::move(store)),
      random_(options_.seed ? *options_.seed : random_seed()),
      kernel_clock_(options_.kernel_clock ? options_.kernel_clock : id::read_kernel_clock) {
  check_lease_options(options_, timing_, uuid());
  if (store_->kind() != "redis" && options_.wait_replicas != 0) {
    throw LeaseError("worker id lease: waiting for replicas is for Redis, not " +
                     std::string(store_->kind()));
  }
  stats_.store = std::string(store_->kind());
}

LeaseKeeper::~LeaseKeeper() { stop_and_release(); }

std::int64_t LeaseKeeper::valid_until(std::int64_t started_unix_ms) const {
  return started_unix_ms + std::chrono::duration_cast<milliseconds>(options_.expiry).count() -
         timing_.margin.count();
}

std::optional<std::uint32_t> LeaseKeeper::try_claim(std::optional<std::uint32_t> prefer,
                                                    std::vector<bool> used, bool& fresh) {
  fresh = true;
  if (prefer) {
    if (store_->claim(*prefer)) return prefer;
    // Still ours: the lease ran out here (calls failing past its end) but
    // not in Redis. Nobody held the id meanwhile, so it is taken back as is
    // rather than left to expire while we take another.
    if (store_->extend(*prefer) == KeyHold::kept) {
      fresh = false;
      return prefer;
    }
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
    if (store_->claim(worker)) return worker;
    used[worker] = true;
  }
}

void LeaseKeeper::took(std::uint32_t worker, std::int64_t started_unix_ms, bool fresh) {
  FenceRead read;
  try {
    read = store_->read_fence(worker);
  } catch (const StoreError&) {
    // No fence, no lease: the id goes back rather than wait for its expiry
    // (an UnfenceableId too: an operator fixes the key).
    release(worker, std::nullopt);
    throw;
  }
  const std::int64_t read_at = clock_.now_unix_ms();
  const std::int64_t fence = read.fence;
  const std::int64_t until = valid_until(started_unix_ms);
  std::int64_t floor = fence;
  std::string note = fence >= 0 ? ", fenced above " + std::to_string(fence) : std::string();
  const auto wait = unfenced_claim_wait(options_, timing_).count();
  if (fresh && store_->may_lose_acknowledged_writes() &&
      !id::fault_injected(id::Fault::no_fresh_wait)) {
    // What an earlier holder issued is known only from a fence the store
    // kept. Any earlier holder stops at the end of the lease it last
    // proved, on a clock at most 2 * max_clock_skew from ours; when that
    // proof may be lost to us, ids start after it.
    if (fence < 0) {
      // No fence: the id's first use, or the store lost its data
      // (restarted empty, flushed, a failover to a replica that missed it).
      // The last proof came before this claim.
      floor = started_unix_ms + wait - id::kEpochUnixMs;
      note = "; no fence in " + store_->fence_key(worker) +
             " (its first use, or the store lost it): no id before " +
             std::to_string(floor + id::kEpochUnixMs) + " (unix ms), " + std::to_string(wait) +
             " ms from the claim, when any earlier holder's lease has surely ended (-lease-ttl "
             "less a quarter, plus twice -max-clock-skew)";
    }
    // A node restarted from a snapshot (RDB, or an AOF not synced at every
    // write) may keep a fence older than the last one raised, and have lost
    // the key of a holder that goes on: that holder's last proof came
    // before the restart. Unknown uptime counts as a restart just now.
    const std::int64_t restarted_at =
        read.store_uptime_s ? read_at - *read.store_uptime_s * 1000 : read_at;
    if (restarted_at + wait - id::kEpochUnixMs > floor) {
      floor = restarted_at + wait - id::kEpochUnixMs;
      note += "; the node keeping " + store_->fence_key(worker) + " started " +
              (read.store_uptime_s ? std::to_string(*read.store_uptime_s) + " s ago"
                                   : std::string("at an unknown time (INFO gave no uptime)")) +
              ", so its fence may be older than the last one raised: no id before " +
              std::to_string(floor + id::kEpochUnixMs) + " (unix ms), " + std::to_string(wait) +
              " ms after its start";
    }
  }
  if (id::fault_injected(id::Fault::no_fence)) floor = -1;
  {
    std::lock_guard lock(mu_);
    if (stats_.worker_id != 0) ++stats_.lease_changes;
    stats_.state = LeaseState::held;
    stats_.worker_id = worker;
    stats_.valid_until_unix_ms = until;
    stats_.why.clear();
    fence_ = floor;
  }
  spdlog::info("worker id {} claimed from {} (uuid {}){}", worker, store_->describe(), uuid(),
               note);
  listener_.lease_held(worker, until, floor);
  std::string failure;
  KeyHold held = KeyHold::gone;
  try {
    held = raise_fence(worker, until, failure);
  } catch (const StoreError& e) {
    failure = e.what();
    store_->disconnect();
  }
  if (held == KeyHold::kept) return;
  if (failure.empty()) {
    lose(store_->id_key(worker) + (held == KeyHold::gone ? " vanished" : " was taken") +
         " right after the claim");
    return;
  }
  // The lease holds; the ceiling waits for the next refresh's mark.
  std::lock_guard lock(mu_);
  ++stats_.refresh_failures;
  spdlog::warn("worker id {}: raising {} failed: {}", worker, store_->fence_key(worker), failure);
}

std::string LeaseKeeper::check_clocks() {
  const id::KernelClock kernel = kernel_clock_();
  const std::int64_t before = clock_.now_unix_ms();
  const std::optional<std::int64_t> store_us = store_->store_time_us();
  const std::int64_t after = clock_.now_unix_ms();
  // Our clock read `before` and `after` around the store's reading: only a
  // store time within [after - skew, before + skew] proves every offset our
  // clock may have had at that moment within the skew.
  const std::int64_t store_ms = store_us ? *store_us / 1000 : (before + after) / 2;
  const std::int64_t skew = options_.max_clock_skew.count();
  const std::int64_t measured = store_ms - (before + after) / 2;
  if (store_us) {
    std::lock_guard lock(mu_);
    stats_.store_clock_measured = true;
    stats_.store_clock_skew_ms = measured;
  }
  if (!kernel.synced && !told_unsynced_) {
    told_unsynced_ = true;
    if (store_us) {
      spdlog::warn(
          "the kernel says the clock is not synchronised (no NTP daemon disciplines it, or it "
          "lost its sources): its error bound is no bound, so only the store's clock (TIME) is "
          "checked, against -max-clock-skew {} ms",
          skew);
    } else {
      spdlog::info(
          "the kernel says the clock is not synchronised (no NTP daemon disciplines it, or it "
          "lost its sources); {} offers no clock to check ours against, and its fences do not "
          "depend on clocks",
          store_->describe());
    }
  } else if (kernel.synced) {
    told_unsynced_ = false;
  }
  if (kernel.synced && kernel.max_error_us > skew * 1000) {
    return "the kernel's clock error bound is " + std::to_string(kernel.max_error_us / 1000) +
           " ms, over -max-clock-skew " + std::to_string(skew) + " ms";
  }
  if (store_us && (store_ms < after - skew || store_ms > before + skew)) {
    return "our clock is " + std::to_string(-measured) + " ms " +
           (measured < 0 ? "ahead of" : "behind") + " the store's (" + store_->describe() +
           " TIME), read over " + std::to_string(after - before) + " ms: over -max-clock-skew " +
           std::to_string(skew) + " ms";
  }
  return {};
}

KeyHold LeaseKeeper::raise_fence(std::uint32_t worker, std::int64_t until, std::string& failure) {
  const std::int64_t mark = listener_.hwm_to_write(until);
  FenceRaise r = store_->hold_and_fence(worker, mark);
  if (r.hold != KeyHold::kept) return r.hold;
  if (!r.not_counted.empty()) {
    failure = std::move(r.not_counted);
    return KeyHold::gone;
  }
  listener_.hwm_written(mark);
  return KeyHold::kept;
}

void LeaseKeeper::release(std::uint32_t worker, std::optional<std::int64_t> final_mark) {
  try {
    if (store_->release(worker, final_mark)) {
      spdlog::info("worker id {} released{}", worker,
                   final_mark ? ", its fence at the last id issued (" +
                                    std::to_string(*final_mark) + ")"
                              : std::string());
    } else {
      spdlog::warn("worker id {}: not released ({} no longer holds our uuid)", worker,
                   store_->id_key(worker));
    }
  } catch (const StoreError& e) {
    spdlog::warn("worker id {}: not released ({}); the key expires by itself", worker, e.what());
  }
}

std::optional<std::uint32_t> LeaseKeeper::claim(std::optional<std::uint32_t> prefer,
                                                std::vector<bool> used, std::string& refused) {
  const std::int64_t started = clock_.now_unix_ms();
  if (const std::string why = check_clocks(); !why.empty()) {
    throw ClockUntrusted("no worker id claimed: " + why);
  }
  for (;;) {
    bool fresh = true;
    const std::optional<std::uint32_t> worker = try_claim(prefer, used, fresh);
    if (!worker) return std::nullopt;
    try {
      took(*worker, started, fresh);
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
  std::vector<bool> used = store_->used_ids(options_.learn_time);
  try {
    std::string refused;
    const std::optional<std::uint32_t> worker = claim(std::nullopt, std::move(used), refused);
    if (!worker) {
      throw LeaseError("no free worker id in " + worker_range_text(options_) + " at " +
                       store_->describe() + ": every id's key (" +
                       store_->id_key(options_.min_worker_id) + ", ...) is held" +
                       (refused.empty() ? "" : ", or refused: " + refused));
    }
    return *worker;
  } catch (const StoreError& e) {
    throw LeaseError(std::string("cannot take a worker id in ") + worker_range_text(options_) + ": " + e.what());
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
    stats_.why = why;
    worker = stats_.worker_id;
  }
  spdlog::warn("worker id {}: lease lost: {}", worker, why);
  listener_.lease_lost(why);
}

void LeaseKeeper::pause(std::uint32_t worker, const std::string& why) {
  {
    std::lock_guard lock(mu_);
    const bool already = stats_.state == LeaseState::paused && stats_.why == why;
    stats_.state = LeaseState::paused;
    stats_.why = why;
    if (already) return;
  }
  spdlog::warn("worker id {}: ids paused, the lease kept: {}", worker, why);
  listener_.ids_paused(why);
}

void LeaseKeeper::step(milliseconds& wait, milliseconds& backoff) {
  LeaseState state{};
  std::uint32_t worker = 0;
  std::int64_t until = 0;
  std::int64_t fence_floor = -1;
  {
    std::lock_guard lock(mu_);
    state = stats_.state;
    worker = stats_.worker_id;
    until = stats_.valid_until_unix_ms;
    fence_floor = fence_;
  }
  const std::int64_t started = clock_.now_unix_ms();
  if (state == LeaseState::held || state == LeaseState::paused) {
    std::string failure;
    KeyHold held = KeyHold::kept;
    std::string distrust;
    const std::int64_t new_until = valid_until(started);
    try {
      distrust = check_clocks();
      // raus's broadcast, so raus processes (and keepers) starting learn the id is in use.
      store_->announce(worker);
      if (distrust.empty()) {
        held = raise_fence(worker, new_until, failure);
      } else {
        // The key is kept (nobody else takes the id meanwhile); the fence is
        // not raised and nothing is issued until the clock is trusted.
        held = store_->extend(worker);
      }
    } catch (const StoreError& e) {
      failure = e.what();
      store_->disconnect();
    }
    if (failure.empty() && held == KeyHold::kept) {
      if (!distrust.empty()) {
        pause(worker, distrust);
        wait = backoff = timing_.refresh_interval;
        return;
      }
      bool resumed = false;
      {
        std::lock_guard lock(mu_);
        resumed = stats_.state == LeaseState::paused;
        stats_.state = LeaseState::held;
        stats_.why.clear();
        stats_.valid_until_unix_ms = new_until;
      }
      if (resumed) spdlog::info("worker id {}: the clock is trusted again, ids resume", worker);
      listener_.lease_held(worker, new_until, fence_floor);
      wait = backoff = timing_.refresh_interval;
      return;
    }
    if (failure.empty()) {
      lose(held == KeyHold::gone ? store_->id_key(worker) + " expired before its refresh"
                                 : store_->id_key(worker) + " holds another uuid");
      wait = std::chrono::milliseconds(0);  // claim again at once
      backoff = timing_.refresh_interval;
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
      wait = backoff = timing_.refresh_interval;
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
      wait = backoff = timing_.refresh_interval;
      return;
    }
    failure = "no free worker id in " + worker_range_text(options_) + (refused.empty() ? "" : "; " + refused);
  } catch (const StoreError& e) {
    store_->disconnect();
    failure = e.what();
  }
  {
    std::lock_guard lock(mu_);
    stats_.why = failure;
  }
  if (claim_failures_++ % kLogEvery == 0) {
    spdlog::warn("claiming a worker id failed ({} so far): {}", claim_failures_, failure);
  }
  backoff = std::min(backoff * 2, options_.max_backoff);
  wait = backoff;
}

void LeaseKeeper::run() {
  milliseconds backoff = timing_.refresh_interval;
  milliseconds wait = stats().state == LeaseState::held ? timing_.refresh_interval : milliseconds(0);
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

void LeaseKeeper::stop_and_release(std::optional<std::int64_t> final_mark) {
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
  // Whatever the state: a lease lost to timeouts may still be ours in the
  // store, and the key is deleted only if it names us.
  if (worker != 0) release(worker, final_mark);
  store_->close();
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
    s.why = "no refresh succeeded before the lease's end";
  }
  return s;
}

}  // namespace katsubushi::lease
