// Hands out strictly increasing, never repeating IDs for one worker id, or
// for several held by one process (-worker-id-count).
//
// Ids compare as (timestamp, worker id, sequence), so a process holding
// worker ids W1 < W2 < ... hands out, within a millisecond, W1's 4096
// sequences, then W2's, and so on: its cursor (millisecond, worker id,
// sequence) only moves forward. An id held again mid-millisecond below the
// cursor serves from the next millisecond; one that cannot issue (its lease
// lost, its fence or mark not yet passed) is skipped while the others serve.
// With one worker id that is the plain single-id generator.
#pragma once

#include <atomic>
#include <limits>
#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

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
// "no_lease", "below_floor", ...: the enumerator's name, for stats.
std::string_view errc_name(GeneratorErrc e) noexcept;
std::error_code make_error_code(GeneratorErrc e) noexcept;

struct GeneratorOptions {
  // How far behind the last issued millisecond the clock may be before the
  // generator refuses instead of waiting for it to catch up.
  std::int64_t max_backward_wait_ms = 1000;
  // The worker ids held from the start: worker_id .. worker_id +
  // worker_id_count - 1 (the caller keeps them within 1..1023). A worker id
  // of 0 holds none: leased ids come with set_lease().
  std::uint32_t worker_id_count = 1;
};

// One held worker id, as stats show it.
struct HeldIdFigures {
  std::uint32_t worker_id = 0;
  std::uint64_t ids_issued = 0;
  std::error_code refusal;  // why it issues nothing now; empty while it may
};

struct GeneratorCounters {
  std::uint64_t ids_issued = 0;
  // "not before": a millisecond's 4096 ids were used up, or the caller's
  // share of them (next_batch's keep_back)
  std::uint64_t sequence_waits = 0;
  std::uint64_t clock_waits = 0;     // "not before": the clock was behind the last issued ms
  std::uint64_t errors = 0;
};

// What may be issued, as the state file allows (the process's window), or
// as one worker id's lease allows (its fence and the mark written beside it):
// ids carry a timestamp above `floor_ms` and below `ceiling_ms` (both ms
// since the id epoch). The defaults allow everything (a static worker id and
// no state file).
struct IssueWindow {
  std::int64_t floor_ms = -1;
  std::int64_t ceiling_ms = std::numeric_limits<std::int64_t>::max();
};

class IdGenerator {
 public:
  // Holds worker_id .. worker_id + options.worker_id_count - 1 (none when
  // worker_id is 0), each with no lease end, fence or mark of its own.
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
  // most one millisecond's worth (kMaxSequence + 1 ids per held worker id)
  // per call, all carrying that millisecond. The first
  // `filled` entries are valid ids (issued, never to be repeated) whatever
  // else is returned; the rest are untouched.
  //
  // `keep_back`: the last keep_back sequences of a millisecond (of its last
  // worker id that can issue) are not for
  // this call (a caller that has had its share of the millisecond leaves them
  // to others; service/id_service.hpp), while others need them: within
  // kKeepBackForMs of a caller asking without keep_back finding a millisecond
  // used up. When only those are left, the call gets not_before the next
  // millisecond, as when the millisecond is used up. A bulk caller alone
  // keeps every millisecond's 4096.
  BatchResult next_batch(std::span<std::uint64_t> out, std::uint32_t keep_back = 0);
  // All of `out`, or nothing: an error, or not_before with nothing issued.
  // For requests that answer with every id or none (at most
  // kMaxSequence + 1 ids, what any millisecond of one worker id holds; a
  // larger `out` is refused with invalid_argument).
  // keep_back as above, less whatever `out` needs to fit in a millisecond.
  BatchResult next_all(std::span<std::uint64_t> out, std::uint32_t keep_back = 0);

  // Whether an id can be issued now or soon, and if not why, without issuing
  // one: what health checks ask. A used-up millisecond or a clock a little
  // behind counts as available (callers come back at not_before). Takes the
  // lock only to read two fields.
  std::error_code check_available() const;

  // The lowest worker id held (0: none).
  std::uint32_t worker_id() const noexcept { return worker_id_.load(std::memory_order_relaxed); }
  // Every held worker id, ascending, with what it issued and why it does not
  // issue now.
  std::vector<HeldIdFigures> held() const;

  static constexpr std::int64_t kKeepBackForMs = 1000;

  // --- The issue window (what makes ids safe across processes) ---

  // Issues nothing at or below `ms` from now on (a stored mark).
  void raise_floor(std::int64_t ms);
  // Ids may carry timestamps below `ms`: the reserved-until mark now
  // written. The first call sets it (there is none before); later calls
  // only raise it, until stop().
  void raise_ceiling(std::int64_t ms);
  // The same for one held worker id (its fence; the mark written beside
  // it). Not held: nothing changes.
  void raise_floor(std::uint32_t worker_id, std::int64_t ms);
  void raise_ceiling(std::uint32_t worker_id, std::int64_t ms);
  // A lease on `worker_id` is valid until `until_unix_ms`. A worker id not
  // held yet joins the held ones with `marks` (its fence, and -1 as the
  // ceiling while its own mark is not written); for one held, marks.floor_ms
  // only raises its floor. Ids keep increasing across the change: the
  // cursor never moves back.
  void set_lease(std::uint32_t worker_id, std::int64_t until_unix_ms, IssueWindow marks = {});
  // The lease is gone (or the clock cannot be trusted, `why`
  // clock_untrusted): nothing is issued until set_lease() again, and
  // check_available() and every refusal give `why`. For every held worker
  // id, or for one.
  void drop_lease(GeneratorErrc why = GeneratorErrc::no_lease);
  void drop_lease(std::uint32_t worker_id, GeneratorErrc why = GeneratorErrc::no_lease);
  // `worker_id` is no longer held (its lease went to another id).
  void forget(std::uint32_t worker_id);
  // Issues nothing more, ever; returns the mark a clean restart (or the next
  // holder of any of its worker ids) must stay above: the last issued
  // timestamp, or the highest floor when that is higher.
  std::int64_t stop();
  // The process's window (state file), not any worker id's.
  IssueWindow window() const;
  Clock& clock() noexcept { return clock_; }
  GeneratorCounters counters() const noexcept;

  // The last issued timestamp in ms since the layout epoch, -1 before the first.
  std::int64_t last_timestamp_ms() const;

 private:
  Clock& clock_;
  std::atomic<std::uint32_t> worker_id_;  // written under mu_
  const GeneratorOptions options_;

  // A held worker id and what allows it to issue.
  struct Held {
    std::uint32_t worker = 0;
    IssueWindow marks;  // its fence and mark, beside the process's window_
    // The tighter of marks and window_: what refusal() compares against.
    std::int64_t floor_ms = -1;
    std::int64_t ceiling_ms = std::numeric_limits<std::int64_t>::max();
    std::int64_t lease_until_unix_ms = std::numeric_limits<std::int64_t>::max();
    GeneratorErrc lease_refusal = GeneratorErrc::no_lease;  // why, past the lease
    std::uint64_t issued = 0;
  };
  // Why `h` issues nothing at `ts` (ms since the id epoch) while the clock
  // reads `now_unix`; {} when it may. mu_ held.
  std::error_code refusal(const Held& h, std::int64_t ts, std::int64_t now_unix) const;
  // Why nothing is issued when no held id may: the lowest's reason. mu_ held.
  std::error_code first_refusal(std::int64_t ts, std::int64_t now_unix) const;
  // The index of the last held id that may issue at `ts`, or -1. mu_ held.
  std::ptrdiff_t last_able(std::int64_t ts, std::int64_t now_unix) const;
  // After held_ changed: at_ and worker_id_ follow. mu_ held.
  void reindex();
  // After window_ or a held id's marks changed: each Held's floor_ms and
  // ceiling_ms follow. mu_ held.
  void tighten(Held& h) const noexcept;
  void tighten_all() noexcept;
  Held* find(std::uint32_t worker);  // mu_ held

  mutable std::mutex mu_;
  std::vector<Held> held_;         // guarded by mu_: ascending worker ids
  std::int64_t last_ts_ = -1;      // guarded by mu_
  // guarded by mu_: the last id issued at last_ts_ without its timestamp,
  // worker id << kSequenceBits | sequence: the cursor within the millisecond
  std::uint32_t position_ = 0;
  std::size_t at_ = 0;             // guarded by mu_: the index in held_ of position_'s worker id
  // guarded by mu_: when (ms since the id epoch) a caller asking without
  // keep_back last found the millisecond used up
  std::int64_t unshared_refusal_ms_ = std::numeric_limits<std::int64_t>::min() / 2;
  IssueWindow window_;             // guarded by mu_
  std::int64_t forgotten_floor_ = -1;  // guarded by mu_: the highest floor of an id forgotten
  GeneratorErrc lease_refusal_ = GeneratorErrc::no_lease;  // guarded by mu_: why, holding none
  // The fleet campaign's self-test seam (id/fault_injection.hpp): false in production.
  const bool gate_off_;

  // next_batch() and next_all(); mu_ not held.
  BatchResult issue(std::span<std::uint64_t> out, bool all_or_nothing, std::uint32_t keep_back);

  // Written under mu_ only (a load and a store), read without it.
  std::atomic<std::uint64_t> ids_issued_{0};
  std::atomic<std::uint64_t> sequence_waits_{0};
  std::atomic<std::uint64_t> clock_waits_{0};
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace katsubushi::id

template <>
struct std::is_error_code_enum<katsubushi::id::GeneratorErrc> : std::true_type {};
