// Hands out strictly increasing, never repeating IDs for one worker id.
#pragma once

#include <atomic>
#include <limits>
#include <cstdint>
#include <mutex>
#include <span>
#include <system_error>

#include "id/clock.hpp"
#include "id/layout.hpp"

namespace katsubushi::id {

enum class GeneratorErrc {
  clock_behind = 1,     // clock is further behind the last issued id than we may wait
  before_epoch,         // clock reads a time before 2015-01-01
  timestamp_overflow,   // clock is past what 41 bits of milliseconds can hold
  below_floor,          // clock has not passed a mark ids must stay above (state file, fence)
  not_reserved,         // clock has reached the reserved-until mark not yet written ahead
  no_lease,             // no worker-id lease is held that is still provably valid
  clock_untrusted,      // the clock disagrees with the lease store's, or the kernel's error bound is too wide
  stopped,              // the daemon has written its last mark and issues no more
};

const std::error_category& generator_category() noexcept;
std::error_code make_error_code(GeneratorErrc e) noexcept;

struct GeneratorOptions {
  // How far behind the last issued millisecond the clock may be before the
  // generator refuses instead of waiting for it to catch up.
  std::int64_t max_backward_wait_ms = 1000;
};

struct GeneratorCounters {
  std::uint64_t ids_issued = 0;
  // "not before": a millisecond's 4096 ids were used up, or the caller's
  // share of them (next_batch's keep_back)
  std::uint64_t sequence_waits = 0;
  std::uint64_t clock_waits = 0;     // "not before": the clock was behind the last issued ms
  std::uint64_t errors = 0;
};

// What may be issued, as the state file and the worker-id lease allow. Ids
// carry a timestamp above `floor_ms` and below `ceiling_ms` (both ms since the
// id epoch), and are issued only while the clock reads before
// `lease_until_unix_ms`. The defaults allow everything (a static worker id
// and no state file).
struct IssueWindow {
  std::int64_t floor_ms = -1;
  std::int64_t ceiling_ms = std::numeric_limits<std::int64_t>::max();
  std::int64_t lease_until_unix_ms = std::numeric_limits<std::int64_t>::max();
};

class IdGenerator {
 public:
  IdGenerator(Clock& clock, std::uint32_t worker_id, GeneratorOptions options = {});

  IdGenerator(const IdGenerator&) = delete;
  IdGenerator& operator=(const IdGenerator&) = delete;

  // The generator never waits. When the current millisecond's ids are used
  // up (or the clock is a little behind the last issued one) it says when to
  // come back instead: `not_before_unix_ms`, a time on its clock. Callers on
  // an I/O thread wait for it on a timer; tests use issue_waiting()
  // (id/issue_waiting.hpp).
  struct BatchResult {
    std::error_code error;
    std::size_t filled = 0;
    // Non-zero when filled < size without an error: the rest can be issued
    // once the clock reads this (unix ms).
    std::int64_t not_before_unix_ms = 0;
  };
  // Fills as much of `out` as can be issued now, under one lock: what is left
  // of the current millisecond, or of the clock's if it has moved on, so at
  // most one millisecond's worth (kMaxSequence + 1 ids) per call. The first
  // `filled` entries are valid ids (issued, never to be repeated) whatever
  // else is returned; the rest are untouched.
  //
  // `keep_back`: the last keep_back sequences of a millisecond are not for
  // this call (a caller that has had its share of the millisecond leaves them
  // to others; service/id_service.hpp), while others need them: within
  // kKeepBackForMs of a caller asking without keep_back finding a millisecond
  // used up. When only those are left, the call gets not_before the next
  // millisecond, as when the millisecond is used up. A bulk caller alone
  // keeps every millisecond's 4096.
  BatchResult next_batch(std::span<std::uint64_t> out, std::uint32_t keep_back = 0);
  // All of `out`, or nothing: an error, or not_before with nothing issued.
  // For requests that answer with every id or none (at most
  // kMaxSequence + 1 ids; a larger `out` is refused with invalid_argument).
  // keep_back as above, less whatever `out` needs to fit in a millisecond.
  BatchResult next_all(std::span<std::uint64_t> out, std::uint32_t keep_back = 0);

  // Whether an id can be issued now or soon, and if not why, without issuing
  // one: what health checks ask. A used-up millisecond or a clock a little
  // behind counts as available (callers come back at not_before). Takes the
  // lock only to read two fields.
  std::error_code check_available() const;

  std::uint32_t worker_id() const noexcept { return worker_id_.load(std::memory_order_relaxed); }

  static constexpr std::int64_t kKeepBackForMs = 1000;

  // --- The issue window (what makes ids safe across processes) ---

  // Issues nothing at or below `ms` from now on (a stored mark, a fence).
  void raise_floor(std::int64_t ms);
  // Ids may carry timestamps below `ms`: the reserved-until mark now
  // written. The first call sets it (there is none before); later calls
  // only raise it, until stop().
  void raise_ceiling(std::int64_t ms);
  // A lease on `worker_id` is valid until `until_unix_ms`. When the worker
  // id changes, the ceiling falls back to the floor (the new id's mark is not
  // written yet) and ids stay above every timestamp issued so far, so they
  // keep increasing across the change.
  void set_lease(std::uint32_t worker_id, std::int64_t until_unix_ms);
  // The lease is gone (or the clock cannot be trusted, `why`
  // clock_untrusted): nothing is issued until set_lease() again, and
  // check_available() and every refusal give `why`.
  void drop_lease(GeneratorErrc why = GeneratorErrc::no_lease);
  // Issues nothing more, ever; returns the mark a clean restart must stay
  // above: the last issued timestamp, or the floor when that is higher.
  std::int64_t stop();
  IssueWindow window() const;
  Clock& clock() noexcept { return clock_; }
  GeneratorCounters counters() const noexcept;

  // The last issued timestamp in ms since the layout epoch, -1 before the first.
  std::int64_t last_timestamp_ms() const;

 private:
  Clock& clock_;
  std::atomic<std::uint32_t> worker_id_;  // written under mu_
  const GeneratorOptions options_;

  mutable std::mutex mu_;
  std::int64_t last_ts_ = -1;      // guarded by mu_
  std::uint32_t sequence_ = 0;     // guarded by mu_: last sequence used at last_ts_
  // guarded by mu_: when (ms since the id epoch) a caller asking without
  // keep_back last found the millisecond used up
  std::int64_t unshared_refusal_ms_ = std::numeric_limits<std::int64_t>::min() / 2;
  IssueWindow window_;             // guarded by mu_
  GeneratorErrc lease_refusal_ = GeneratorErrc::no_lease;  // guarded by mu_: why, past the lease
  // The fleet campaign's self-test seam (id/fault_injection.hpp): false in production.
  const bool gate_off_;

  // Why no id can be issued at `now` (ms since the id epoch, `now_unix` on
  // the clock) under the window; mu_ held.
  std::error_code window_refusal(std::int64_t now, std::int64_t now_unix) const;
  // next_batch() and next_all(); mu_ not held.
  BatchResult issue(std::span<std::uint64_t> out, bool all_or_nothing, std::uint32_t keep_back);

  std::atomic<std::uint64_t> ids_issued_{0};
  std::atomic<std::uint64_t> sequence_waits_{0};
  std::atomic<std::uint64_t> clock_waits_{0};
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace katsubushi::id

template <>
struct std::is_error_code_enum<katsubushi::id::GeneratorErrc> : std::true_type {};
