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

std::string_view errc_name(GeneratorErrc e) noexcept {
  switch (e) {
    case GeneratorErrc::clock_behind:
      return "clock_behind";
    case GeneratorErrc::before_epoch:
      return "before_epoch";
    case GeneratorErrc::timestamp_overflow:
      return "timestamp_overflow";
    case GeneratorErrc::below_floor:
      return "below_floor";
    case GeneratorErrc::not_reserved:
      return "not_reserved";
    case GeneratorErrc::no_lease:
      return "no_lease";
    case GeneratorErrc::clock_untrusted:
      return "clock_untrusted";
    case GeneratorErrc::stopped:
      return "stopped";
  }
  return "unknown";
}

std::error_code make_error_code(GeneratorErrc e) noexcept {
  return {static_cast<int>(e), generator_category()};
}

namespace {

constexpr std::int64_t kStopped = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kUnbounded = std::numeric_limits<std::int64_t>::max();

constexpr std::uint32_t first_position(std::uint32_t worker) noexcept {
  return worker << kSequenceBits;
}

// A counter only ever written under the generator's lock, read without it.
void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

IdGenerator::IdGenerator(Clock& clock, std::uint32_t worker_id, GeneratorOptions options)
    : clock_(clock),
      worker_id_(0),
      options_(options),
      gate_off_(fault_injected(Fault::no_gate)) {
  worker_id &= kMaxWorkerId;
  if (worker_id != 0) {
    for (std::uint32_t w = worker_id;
         w < worker_id + std::max<std::uint32_t>(options.worker_id_count, 1) && w <= kMaxWorkerId;
         ++w) {
      held_.push_back({.worker = w, .marks = {}});
    }
  }
  tighten_all();
  reindex();
}

void IdGenerator::reindex() {
  const std::uint32_t worker = position_ >> kSequenceBits;
  at_ = static_cast<std::size_t>(
      std::lower_bound(held_.begin(), held_.end(), worker,
                       [](const Held& h, std::uint32_t w) { return h.worker < w; }) -
      held_.begin());
  worker_id_.store(held_.empty() ? 0 : held_.front().worker, std::memory_order_relaxed);
}

IdGenerator::Held* IdGenerator::find(std::uint32_t worker) {
  const auto it = std::lower_bound(held_.begin(), held_.end(), worker,
                                   [](const Held& h, std::uint32_t w) { return h.worker < w; });
  return it != held_.end() && it->worker == worker ? &*it : nullptr;
}

void IdGenerator::tighten(Held& h) const noexcept {
  h.floor_ms = std::max(window_.floor_ms, h.marks.floor_ms);
  h.ceiling_ms = std::min(window_.ceiling_ms, h.marks.ceiling_ms);
}

void IdGenerator::tighten_all() noexcept {
  for (Held& h : held_) tighten(h);
}

std::error_code IdGenerator::refusal(const Held& h, std::int64_t ts,
                                     std::int64_t now_unix) const {
  if (now_unix >= h.lease_until_unix_ms && !gate_off_) return h.lease_refusal;
  if (ts <= h.floor_ms) return GeneratorErrc::below_floor;
  if (ts >= h.ceiling_ms && !gate_off_) return GeneratorErrc::not_reserved;
  return {};
}

std::error_code IdGenerator::first_refusal(std::int64_t ts, std::int64_t now_unix) const {
  if (window_.ceiling_ms == kStopped) return GeneratorErrc::stopped;
  if (held_.empty()) return lease_refusal_;
  return refusal(held_.front(), ts, now_unix);
}

std::ptrdiff_t IdGenerator::last_able(std::int64_t ts, std::int64_t now_unix) const {
  if (window_.ceiling_ms == kStopped) return -1;
  auto i = static_cast<std::ptrdiff_t>(held_.size()) - 1;
  while (i >= 0 && refusal(held_[static_cast<std::size_t>(i)], ts, now_unix)) --i;
  return i;
}

void IdGenerator::raise_floor(std::int64_t ms) {
  std::lock_guard lock(mu_);
  window_.floor_ms = std::max(window_.floor_ms, ms);
  tighten_all();
}

void IdGenerator::raise_ceiling(std::int64_t ms) {
  std::lock_guard lock(mu_);
  if (window_.ceiling_ms == kStopped) return;
  if (window_.ceiling_ms == kUnbounded || ms > window_.ceiling_ms) window_.ceiling_ms = ms;
  tighten_all();
}

void IdGenerator::raise_floor(std::uint32_t worker_id, std::int64_t ms) {
  std::lock_guard lock(mu_);
  if (Held* h = find(worker_id)) {
    h->marks.floor_ms = std::max(h->marks.floor_ms, ms);
    tighten(*h);
  }
}

void IdGenerator::raise_ceiling(std::uint32_t worker_id, std::int64_t ms) {
  std::lock_guard lock(mu_);
  Held* h = find(worker_id);
  if (h == nullptr) return;
  if (h->marks.ceiling_ms == kUnbounded || ms > h->marks.ceiling_ms) h->marks.ceiling_ms = ms;
  tighten(*h);
}

void IdGenerator::set_lease(std::uint32_t worker_id, std::int64_t until_unix_ms,
                            IssueWindow marks) {
  std::lock_guard lock(mu_);
  if (window_.ceiling_ms == kStopped || !valid_worker_id(worker_id)) return;
  Held* h = find(worker_id);
  if (h == nullptr) {
    const auto it = std::lower_bound(held_.begin(), held_.end(), worker_id,
                                     [](const Held& x, std::uint32_t w) { return x.worker < w; });
    h = &*held_.insert(it, Held{.worker = worker_id, .marks = marks});
    reindex();
  } else {
    h->marks.floor_ms = std::max(h->marks.floor_ms, marks.floor_ms);
  }
  tighten(*h);
  h->lease_until_unix_ms = until_unix_ms;
  h->lease_refusal = GeneratorErrc::no_lease;
}

void IdGenerator::drop_lease(GeneratorErrc why) {
  std::lock_guard lock(mu_);
  for (Held& h : held_) {
    h.lease_until_unix_ms = kStopped;
    h.lease_refusal = why;
  }
  lease_refusal_ = why;
}

void IdGenerator::drop_lease(std::uint32_t worker_id, GeneratorErrc why) {
  std::lock_guard lock(mu_);
  if (Held* h = find(worker_id)) {
    h->lease_until_unix_ms = kStopped;
    h->lease_refusal = why;
  }
}

void IdGenerator::forget(std::uint32_t worker_id) {
  std::lock_guard lock(mu_);
  if (Held* h = find(worker_id)) {
    // Its fence stays part of what stop() names: the mark it was given back at.
    forgotten_floor_ = std::max(forgotten_floor_, h->marks.floor_ms);
    held_.erase(held_.begin() + (h - held_.data()));
    reindex();
  }
}

std::int64_t IdGenerator::stop() {
  std::lock_guard lock(mu_);
  window_.ceiling_ms = kStopped;
  tighten_all();
  std::int64_t mark = std::max({last_ts_, window_.floor_ms, forgotten_floor_});
  for (const Held& h : held_) mark = std::max(mark, h.marks.floor_ms);
  return mark;
}

IssueWindow IdGenerator::window() const {
  std::lock_guard lock(mu_);
  return window_;
}

std::vector<HeldIdFigures> IdGenerator::held() const {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_.now_unix_ms();
  const std::int64_t ts = std::max(now - kEpochUnixMs, last_ts_);
  std::vector<HeldIdFigures> out;
  out.reserve(held_.size());
  for (const Held& h : held_) {
    out.push_back({.worker_id = h.worker,
                   .ids_issued = h.issued,
                   .refusal = window_.ceiling_ms == kStopped ? GeneratorErrc::stopped
                                                             : refusal(h, ts, now)});
  }
  return out;
}

IdGenerator::BatchResult IdGenerator::next_batch(std::span<std::uint64_t> out,
                                                 std::uint32_t keep_back) {
  return issue(out, false, std::min(keep_back, kMaxSequence));
}

IdGenerator::BatchResult IdGenerator::next_all(std::span<std::uint64_t> out,
                                               std::uint32_t keep_back) {
  constexpr std::size_t kPerMs = std::size_t{kMaxSequence} + 1;
  if (out.size() > kPerMs) {
    std::lock_guard lock(mu_);
    bump(errors_, 1);
    return {.error = std::make_error_code(std::errc::invalid_argument)};
  }
  // Never so much held back that `out` could not fit in any millisecond.
  const auto fits = static_cast<std::uint32_t>(kPerMs - std::max<std::size_t>(out.size(), 1));
  return issue(out, true, std::min(keep_back, fits));
}

IdGenerator::BatchResult IdGenerator::issue(std::span<std::uint64_t> out, bool all_or_nothing,
                                            std::uint32_t keep_back) {
  BatchResult result;
  if (!out.empty()) {
    bool waits_seq = false;
    bool waits_clock = false;
    std::lock_guard lock(mu_);
    const std::int64_t now_unix = clock_.now_unix_ms();
    const std::int64_t now = now_unix - kEpochUnixMs;
    // Ids left now: a new millisecond's, or what the current one has left
    // after the cursor. When the clock is behind last_ts_ we keep using
    // last_ts_: it was reached before, so this borrows nothing from the future.
    const std::int64_t ts = std::max(now, last_ts_);
    const std::ptrdiff_t last = now < 0 || now > kMaxTimestamp ? -1 : last_able(ts, now_unix);
    if (now < 0) {
      result.error = GeneratorErrc::before_epoch;
    } else if (now > kMaxTimestamp) {
      result.error = GeneratorErrc::timestamp_overflow;
    } else if (last < 0) {
      result.error = first_refusal(ts, now_unix);
    } else {
      const bool fresh = now > last_ts_;
      // The first position this call may take, and past the last the one
      // after it: the last able id keeps its top keep_back sequences back
      // (keep_back <= kMaxSequence) while a caller without was refused lately.
      const std::uint32_t from = fresh ? 0 : position_ + 1;
      const std::uint32_t top =
          now - unshared_refusal_ms_ < kKeepBackForMs ? kMaxSequence - keep_back : kMaxSequence;
      const auto last_index = static_cast<std::size_t>(last);
      const std::uint32_t end = first_position(held_[last_index].worker) + top + 1;
      const std::size_t start_index = fresh ? 0 : at_;
      // Each able held id from the cursor on gives a run [begin, stop) of
      // positions; `take` is handed them in order until it says enough.
      const auto runs = [&](auto&& take) {
        for (std::size_t i = start_index; i <= last_index; ++i) {
          const Held& h = held_[i];
          const std::uint32_t begin = std::max(from, first_position(h.worker));
          const std::uint32_t stop =
              i == last_index ? end : first_position(h.worker) + kMaxSequence + 1;
          if (begin >= stop || (i != last_index && refusal(h, ts, now_unix))) continue;
          if (!take(i, begin, stop)) return;
        }
      };
      bool fits = true;
      if (all_or_nothing) {
        std::size_t left = 0;
        runs([&](std::size_t, std::uint32_t begin, std::uint32_t stop) {
          left += stop - begin;
          return left < out.size();
        });
        fits = left >= out.size();
      }
      if (fits) {
        const std::uint64_t base = static_cast<std::uint64_t>(ts)
                                   << (kWorkerIdBits + kSequenceBits);
        runs([&](std::size_t i, std::uint32_t begin, std::uint32_t stop) {
          const std::uint32_t n = static_cast<std::uint32_t>(
              std::min<std::size_t>(stop - begin, out.size() - result.filled));
          std::uint64_t* dst = out.data() + result.filled;
          for (std::uint32_t k = 0; k < n; ++k) dst[k] = base | (begin + k);
          result.filled += n;
          held_[i].issued += n;
          position_ = begin + n - 1;
          at_ = i;
          last_ts_ = ts;
          return result.filled < out.size();
        });
      }
      if (result.filled < out.size()) {
        // The millisecond ts is used up, or this caller's share of it
        // (or what is left is too short for all of out).
        const std::int64_t behind = ts - now;
        // A used-up millisecond the clock has reached is always worth coming
        // back for; only a clock truly behind is measured against the limit.
        // (At the last representable millisecond the next one is out of
        // range: asked again then, the clock check above refuses.)
        if (behind > 0 && behind >= options_.max_backward_wait_ms) {
          result.error = GeneratorErrc::clock_behind;
        } else {
          (behind == 0 ? waits_seq : waits_clock) = true;
          const bool used_up =
              last_ts_ == ts &&
              position_ >= first_position(held_[last_index].worker) + kMaxSequence;
          if (keep_back == 0 && used_up) unshared_refusal_ms_ = now;
          result.not_before_unix_ms = kEpochUnixMs + ts + 1;
        }
      }
    }
    // Every writer holds mu_: a load and a store, no read-modify-write.
    bump(ids_issued_, result.filled);
    if (waits_seq) bump(sequence_waits_, 1);
    if (waits_clock) bump(clock_waits_, 1);
    if (result.error) bump(errors_, 1);
  }
  return result;
}

std::error_code IdGenerator::check_available() const {
  std::lock_guard lock(mu_);
  // The clock is read under the lock, as next_batch() reads it, so a
  // concurrent issue cannot make `now` look older than last_ts_.
  const std::int64_t now_unix = clock_.now_unix_ms();
  const std::int64_t now = now_unix - kEpochUnixMs;
  if (now < 0) return GeneratorErrc::before_epoch;
  if (now > kMaxTimestamp) return GeneratorErrc::timestamp_overflow;
  const std::int64_t ts = std::max(now, last_ts_);
  const std::ptrdiff_t last = last_able(ts, now_unix);
  if (last < 0) return first_refusal(ts, now_unix);
  const std::uint32_t end = first_position(held_[static_cast<std::size_t>(last)].worker) +
                            kMaxSequence;
  if (now > last_ts_ || position_ < end) return {};
  // The last able id's ids of last_ts_ are used up: next() waits for the
  // millisecond after it.
  if (last_ts_ >= kMaxTimestamp) return GeneratorErrc::timestamp_overflow;
  const std::int64_t behind = last_ts_ - now;
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
