#include "id/generator.hpp"

#include "id/fault_injection.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace katsubushi::id {

namespace {

class GeneratorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "katsubushi.generator"; }
  std::string message(int ev) const override {
    switch (static_cast<GeneratorErrc>(ev)) {
      case GeneratorErrc::clock_behind:
        return "clock is behind the last issued id";
      case GeneratorErrc::before_epoch:
        return "clock is before the id epoch";
      case GeneratorErrc::timestamp_overflow:
        return "clock is beyond the id timestamp range";
      case GeneratorErrc::below_floor:
        return "clock has not yet passed the last reserved mark";
      case GeneratorErrc::not_reserved:
        return "clock has reached the reserved-until mark, which is not yet written ahead";
      case GeneratorErrc::no_lease:
        return "no valid worker id lease";
      case GeneratorErrc::clock_untrusted:
        return "clock not trusted: it disagrees with the lease store's by more than "
               "-max-clock-skew, or the kernel's error bound is wider";
      case GeneratorErrc::stopped:
        return "the daemon is stopping";
    }
    return "unknown generator error";
  }
};

}  // namespace

const std::error_category& generator_category() noexcept {
  static const GeneratorCategory category;
  return category;
}

std::error_code make_error_code(GeneratorErrc e) noexcept {
  return {static_cast<int>(e), generator_category()};
}

IdGenerator::IdGenerator(Clock& clock, std::uint32_t worker_id, GeneratorOptions options)
    : clock_(clock),
      worker_id_(worker_id & kMaxWorkerId),
      options_(options),
      gate_off_(fault_injected(Fault::no_gate)) {}

std::error_code IdGenerator::window_refusal(std::int64_t now, std::int64_t now_unix) const {
  if (window_.ceiling_ms == std::numeric_limits<std::int64_t>::min()) {
    return GeneratorErrc::stopped;
  }
  if (now_unix >= window_.lease_until_unix_ms && !gate_off_) return lease_refusal_;
  // The timestamp the next id would carry: the clock's, or the current
  // millisecond's while it has ids left or the clock is behind it.
  const std::int64_t ts = std::max(now, last_ts_);
  if (now <= window_.floor_ms && last_ts_ <= window_.floor_ms) return GeneratorErrc::below_floor;
  if (ts >= window_.ceiling_ms && !gate_off_) return GeneratorErrc::not_reserved;
  return {};
}

void IdGenerator::raise_floor(std::int64_t ms) {
  std::lock_guard lock(mu_);
  window_.floor_ms = std::max(window_.floor_ms, ms);
}

void IdGenerator::raise_ceiling(std::int64_t ms) {
  std::lock_guard lock(mu_);
  if (window_.ceiling_ms == std::numeric_limits<std::int64_t>::min()) return;  // stopped
  if (window_.ceiling_ms == std::numeric_limits<std::int64_t>::max() || ms > window_.ceiling_ms) {
    window_.ceiling_ms = ms;
  }
}

void IdGenerator::set_lease(std::uint32_t worker_id, std::int64_t until_unix_ms) {
  std::lock_guard lock(mu_);
  if (window_.ceiling_ms == std::numeric_limits<std::int64_t>::min()) return;  // stopped
  worker_id &= kMaxWorkerId;
  if (worker_id != worker_id_.load(std::memory_order_relaxed)) {
    // Ids of the new worker id start above everything issued so far, and
    // wait for that id's own reserved-until mark to be written.
    window_.floor_ms = std::max(window_.floor_ms, last_ts_);
    if (window_.ceiling_ms != std::numeric_limits<std::int64_t>::max()) {
      window_.ceiling_ms = window_.floor_ms;
    }
    worker_id_.store(worker_id, std::memory_order_relaxed);
  }
  window_.lease_until_unix_ms = until_unix_ms;
  lease_refusal_ = GeneratorErrc::no_lease;
}

void IdGenerator::drop_lease(GeneratorErrc why) {
  std::lock_guard lock(mu_);
  window_.lease_until_unix_ms = std::numeric_limits<std::int64_t>::min();
  lease_refusal_ = why;
}

std::int64_t IdGenerator::stop() {
  std::lock_guard lock(mu_);
  window_.ceiling_ms = std::numeric_limits<std::int64_t>::min();
  return std::max(last_ts_, window_.floor_ms);
}

IssueWindow IdGenerator::window() const {
  std::lock_guard lock(mu_);
  return window_;
}

IdGenerator::BatchResult IdGenerator::next_batch(std::span<std::uint64_t> out,
                                                 std::uint32_t keep_back) {
  return issue(out, false, std::min(keep_back, kMaxSequence));
}

IdGenerator::BatchResult IdGenerator::next_all(std::span<std::uint64_t> out,
                                               std::uint32_t keep_back) {
  constexpr std::size_t kPerMs = std::size_t{kMaxSequence} + 1;
  if (out.size() > kPerMs) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return {.error = std::make_error_code(std::errc::invalid_argument)};
  }
  // Never so much held back that `out` could not fit in any millisecond.
  const auto fits = static_cast<std::uint32_t>(kPerMs - std::max<std::size_t>(out.size(), 1));
  return issue(out, true, std::min(keep_back, fits));
}

IdGenerator::BatchResult IdGenerator::issue(std::span<std::uint64_t> out, bool all_or_nothing,
                                            std::uint32_t keep_back) {

  BatchResult result;
  bool waits_seq = false;
  bool waits_clock = false;
  if (!out.empty()) {
    std::lock_guard lock(mu_);
    const std::uint32_t worker = worker_id_.load(std::memory_order_relaxed);
    const std::int64_t now = clock_.now_unix_ms() - kEpochUnixMs;
    if (now < 0) {
      result.error = GeneratorErrc::before_epoch;
    } else if (now > kMaxTimestamp) {
      result.error = GeneratorErrc::timestamp_overflow;
    } else if (const auto refusal = window_refusal(now, now + kEpochUnixMs)) {
      result.error = refusal;
    } else {
      // Ids left now: a new millisecond's 4096, or what the current one has
      // left. When the clock is behind last_ts_ we keep using last_ts_: it
      // was reached before, so this borrows nothing from the future.
      // The highest sequence this call may use (keep_back <= kMaxSequence).
      const std::uint32_t top =
          now - unshared_refusal_ms_ < kKeepBackForMs ? kMaxSequence - keep_back : kMaxSequence;
      const bool fresh = now > last_ts_;
      const std::size_t left = fresh             ? std::size_t{top} + 1
                               : sequence_ < top ? top - sequence_
                                                 : 0;
      if (left >= out.size() || (!all_or_nothing && left > 0)) {
        if (fresh) {
          last_ts_ = now;
          sequence_ = 0;
          out[result.filled++] = encode({last_ts_, worker, 0});
        }
        while (result.filled < out.size() && sequence_ < top) {
          ++sequence_;
          out[result.filled++] = encode({last_ts_, worker, sequence_});
        }
      }
      if (result.filled < out.size()) {
        // The millisecond last_ts_ is used up, or this caller's share of it
        // (or what is left is too short for all of out).
        const std::int64_t behind = last_ts_ - now;
        // A used-up millisecond the clock has reached is always worth coming
        // back for; only a clock truly behind is measured against the limit.
        // (At the last representable millisecond the next one is out of
        // range: asked again then, the clock check above refuses.)
        if (behind > 0 && behind >= options_.max_backward_wait_ms) {
          result.error = GeneratorErrc::clock_behind;
        } else {
          (behind == 0 ? waits_seq : waits_clock) = true;
          if (keep_back == 0 && sequence_ == kMaxSequence) unshared_refusal_ms_ = now;
          result.not_before_unix_ms = kEpochUnixMs + last_ts_ + 1;
        }
      }
    }
  }
  ids_issued_.fetch_add(result.filled, std::memory_order_relaxed);
  if (waits_seq) sequence_waits_.fetch_add(1, std::memory_order_relaxed);
  if (waits_clock) clock_waits_.fetch_add(1, std::memory_order_relaxed);
  if (result.error) errors_.fetch_add(1, std::memory_order_relaxed);
  return result;
}

std::error_code IdGenerator::check_available() const {
  std::int64_t last = 0;
  std::uint32_t sequence = 0;
  std::int64_t now = 0;
  std::error_code refusal;
  {
    // The clock is read under the lock, as next_batch() reads it, so a
    // concurrent issue cannot make `now` look older than last_ts_.
    std::lock_guard lock(mu_);
    now = clock_.now_unix_ms() - kEpochUnixMs;
    last = last_ts_;
    sequence = sequence_;
    if (now >= 0 && now <= kMaxTimestamp) refusal = window_refusal(now, now + kEpochUnixMs);
  }
  if (now < 0) return GeneratorErrc::before_epoch;
  if (now > kMaxTimestamp) return GeneratorErrc::timestamp_overflow;
  if (refusal) return refusal;
  if (now > last || sequence < kMaxSequence) return {};
  // last's ids are used up: next() waits for the millisecond after it.
  if (last >= kMaxTimestamp) return GeneratorErrc::timestamp_overflow;
  const std::int64_t behind = last - now;
  if (behind > 0 && behind >= options_.max_backward_wait_ms) return GeneratorErrc::clock_behind;
  return {};
}

GeneratorCounters IdGenerator::counters() const noexcept {
  return {
      .ids_issued = ids_issued_.load(std::memory_order_relaxed),
      .sequence_waits = sequence_waits_.load(std::memory_order_relaxed),
      .clock_waits = clock_waits_.load(std::memory_order_relaxed),
      .errors = errors_.load(std::memory_order_relaxed),
  };
}

std::int64_t IdGenerator::last_timestamp_ms() const {
  std::lock_guard lock(mu_);
  return last_ts_;
}

}  // namespace katsubushi::id
