// Properties of IdGenerator under simulated time. Whatever the clock does
// (steps, rewinds of any size, leaps, stalls) and however ids are asked for
// (one at a time or in batches), ids strictly increase, keep their worker
// bits, never come from a millisecond the clock has not reached, and an error
// hands out exactly the ids it reports and no others.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "id/issue_waiting.hpp"
#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"

namespace katsubushi::id {
namespace {

// An entry never written by the generator: a real id has bit 63 clear.
constexpr std::uint64_t kUntouched = ~std::uint64_t{0};

struct ClockStep {
  enum class Kind {
    forward,         // the clock moves on a few ms
    rewind,          // the clock is set back by `amount` ms (any size)
    leap,            // the clock jumps far ahead
    leap_to_end,     // the clock lands `amount` ms before the 41-bit range ends
    next,            // one next()
    batch,           // one next_batch() of `amount` ids
    stall,           // `amount` next() calls with the clock standing still
  };
  Kind kind = Kind::next;
  std::int64_t amount = 0;
};

void showValue(const ClockStep& s, std::ostream& os) {
  static constexpr const char* kNames[] = {"forward", "rewind", "leap",  "leap_to_end",
                                           "next",    "batch",  "stall"};
  os << kNames[static_cast<int>(s.kind)] << '(' << s.amount << ')';
}

rc::Gen<ClockStep> step_of(ClockStep::Kind kind, std::int64_t lo, std::int64_t hi) {
  return rc::gen::map(rc::gen::inRange<std::int64_t>(lo, hi),
                      [kind](std::int64_t a) { return ClockStep{kind, a}; });
}

rc::Gen<ClockStep> clock_step() {
  using K = ClockStep::Kind;
  return rc::gen::weightedOneOf<ClockStep>({
      {24, step_of(K::forward, 1, 4)},
      {12, step_of(K::rewind, 1, 10)},
      {8, step_of(K::rewind, 1, 3000)},  // around max_backward_wait_ms
      {3, step_of(K::rewind, 3000, 1'000'000'000)},
      {1, step_of(K::rewind, 1'000'000'000, std::int64_t{1} << 42)},  // maybe before 2015
      {6, step_of(K::leap, 1000, 10'000'000'000)},
      {1, step_of(K::leap_to_end, 0, 3)},
      {32, step_of(K::next, 0, 1)},
      {16, step_of(K::batch, 1, 21)},
      {10, step_of(K::batch, 1, 10'001)},
      {8, step_of(K::batch, 4090, 4100)},  // around one millisecond's worth
      {8, step_of(K::stall, 2, 5000)},
  });
}

struct Expected {
  std::size_t filled = 0;
  std::error_code error;
  std::int64_t sleeps = 0;
};

// The generator's contract, counted rather than computed id by id: a
// millisecond holds 4096 ids; once the one in use is spent the generator
// sleeps to the next, unless the clock is max_backward_wait_ms or more behind.
Expected expect_request(std::int64_t now, std::optional<IdParts> last, std::size_t n,
                        std::int64_t max_backward_wait_ms) {
  Expected e;
  if (now < 0) {
    e.error = GeneratorErrc::before_epoch;
    return e;
  }
  if (now > kMaxTimestamp) {
    e.error = GeneratorErrc::timestamp_overflow;
    return e;
  }
  std::int64_t ms = last ? last->timestamp_ms : -1;
  std::size_t left = last ? kMaxSequence - last->sequence : 0;
  for (;;) {
    if (now > ms) {
      ms = now;
      left = kSequencePerMs;
    }
    const std::size_t take = std::min(left, n - e.filled);
    e.filled += take;
    left -= take;
    if (e.filled == n) return e;
    if (ms - now >= max_backward_wait_ms) {
      e.error = GeneratorErrc::clock_behind;
      return e;
    }
    ++e.sleeps;
    now = ms + 1;
    if (now > kMaxTimestamp) {
      e.error = GeneratorErrc::timestamp_overflow;
      return e;
    }
  }
}

// Drives one generator and checks every request against the contract.
class GeneratorUnderTest {
 public:
  GeneratorUnderTest(std::int64_t start_unix_ms, std::uint32_t worker, std::int64_t max_wait)
      : clock_(start_unix_ms), gen_(clock_, worker, {.max_backward_wait_ms = max_wait}),
        worker_(worker), max_wait_(max_wait) {}

  ManualClock& clock() { return clock_; }
  const std::vector<std::uint64_t>& issued() const { return issued_; }
  // Rarer paths met so far, to show what the generated runs exercise.
  const std::set<std::string>& events() const { return events_; }

  void apply(const ClockStep& step) {
    using K = ClockStep::Kind;
    switch (step.kind) {
      case K::forward:
      case K::leap:
        clock_.advance(step.amount);
        break;
      case K::rewind:
        clock_.advance(-step.amount);
        break;
      case K::leap_to_end:
        clock_.set(kEpochUnixMs + kMaxTimestamp - step.amount);
        break;
      case K::next:
        request(1, false);
        break;
      case K::batch:
        request(static_cast<std::size_t>(step.amount), true);
        break;
      case K::stall:
        for (std::int64_t i = 0; i < step.amount; ++i) request(1, false);
        break;
    }
  }

 private:
  void request(std::size_t n, bool as_batch) {
    const Expected want = expect_request(clock_.now_unix_ms() - kEpochUnixMs, last_, n, max_wait_);
    const GeneratorCounters before = gen_.counters();
    const std::int64_t sleeps_before = clock_.sleeps();

    out_.assign(n, kUntouched);
    IdGenerator::BatchResult got;
    if (as_batch) {
      got = issue_waiting(gen_, out_);
    } else {
      got.error = next_waiting(gen_, out_[0]);
      got.filled = got.error ? 0 : 1;
      // A failed next() issues nothing and leaves its output alone.
      if (got.error) RC_ASSERT(out_[0] == kUntouched);
    }
    RC_ASSERT(got.error == want.error);
    RC_ASSERT(got.filled == want.filled);
    RC_ASSERT(std::all_of(out_.begin() + static_cast<std::ptrdiff_t>(got.filled), out_.end(),
                          [](std::uint64_t v) { return v == kUntouched; }));

    const GeneratorCounters after = gen_.counters();
    RC_ASSERT(after.ids_issued - before.ids_issued == got.filled);
    RC_ASSERT(after.errors - before.errors == (got.error ? 1u : 0u));
    const auto waits = (after.sequence_waits - before.sequence_waits) +
                       (after.clock_waits - before.clock_waits);
    RC_ASSERT(static_cast<std::int64_t>(waits) == clock_.sleeps() - sleeps_before);
    RC_ASSERT(clock_.sleeps() - sleeps_before == want.sleeps);
    if (got.error == GeneratorErrc::clock_behind) events_.insert("refused: clock behind");
    if (after.clock_waits > before.clock_waits) events_.insert("waited for the clock");

    // The clock only moves forward during a call, so this is the latest time
    // the generator can have seen; behind it, it may still use a millisecond
    // it reached earlier, never one it has not reached.
    reached_ = std::max(reached_, clock_.now_unix_ms() - kEpochUnixMs);
    // Plain checks per id (RC_ASSERT per id is slow under sanitizers).
    for (std::size_t i = 0; i < got.filled; ++i) {
      const std::uint64_t id = out_[i];
      const IdParts p = decode(id);
      const char* broken =
          p.worker_id != worker_                          ? "worker bits changed"
          : encode(p) != id                               ? "bits outside the layout"
          : p.timestamp_ms > reached_                     ? "millisecond not reached yet"
          : last_ && id <= encode(*last_)                 ? "not greater than the id before"
          : last_ && p.timestamp_ms < last_->timestamp_ms ? "timestamp went back"
                                                          : nullptr;
      if (broken != nullptr) fail_on_id(broken, i, id);
      last_ = p;
      issued_.push_back(id);
    }
  }

  [[noreturn]] void fail_on_id(const char* what, std::size_t index, std::uint64_t id) const {
    std::ostringstream msg;
    const IdParts p = decode(id);
    msg << what << ": id " << id << " (ms " << p.timestamp_ms << ", worker " << p.worker_id
        << ", seq " << p.sequence << ") at index " << index << " of the request";
    if (last_) msg << "; id before: " << encode(*last_);
    msg << "; clock reached ms " << reached_;
    RC_FAIL(msg.str());
  }

  ManualClock clock_;
  IdGenerator gen_;
  std::uint32_t worker_;
  std::int64_t max_wait_;
  std::optional<IdParts> last_;
  std::int64_t reached_ = -1;  // latest clock reading in ms since the epoch at any call's end
  std::vector<std::uint64_t> out_;
  std::vector<std::uint64_t> issued_;
  std::set<std::string> events_;
};

rc::Gen<std::int64_t> start_unix_ms() {
  return rc::gen::inRange<std::int64_t>(kEpochUnixMs, kEpochUnixMs + (std::int64_t{1} << 40));
}

RC_GTEST_PROP(GeneratorProperties, IdsIncreaseUnderAnyClockAndRequests, ()) {
  const auto start = *start_unix_ms();
  const auto worker = *rc::gen::inRange<std::uint32_t>(1, kMaxWorkerId + 1);
  const auto max_wait = *rc::gen::inRange<std::int64_t>(1, 2001);
  const auto steps = *rc::gen::container<std::vector<ClockStep>>(clock_step());

  GeneratorUnderTest g(start, worker, max_wait);
  for (const auto& step : steps) g.apply(step);
  // Show what the runs exercised, so a generator of steps that stops
  // reaching an error or a wait is noticed.
  for (const std::string& e : g.events()) RC_CLASSIFY(true, e);
  RC_CLASSIFY(g.issued().empty(), "no ids");
}

// More than 4096 requests in one simulated millisecond: the generator sleeps
// to the next millisecond instead of wrapping the sequence, and never hands
// out a millisecond the clock has not reached.
RC_GTEST_PROP(GeneratorProperties, SpentMillisecondWaitsInsteadOfWrapping, ()) {
  const auto start = *start_unix_ms();
  const auto worker = *rc::gen::inRange<std::uint32_t>(1, kMaxWorkerId + 1);
  const auto sizes = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::size_t>>(
      rc::gen::weightedOneOf<std::size_t>({{3, rc::gen::inRange<std::size_t>(1, 5)},
                                           {2, rc::gen::inRange<std::size_t>(4090, 4100)},
                                           {1, rc::gen::inRange<std::size_t>(1, 20'000)}})));
  ManualClock clock(start);
  IdGenerator gen(clock, worker);

  std::uint64_t total = 0;
  std::uint64_t prev = 0;
  std::vector<std::uint64_t> out;
  for (const std::size_t n : sizes) {
    out.assign(n, kUntouched);
    if (n == 1) {
      RC_ASSERT(!next_waiting(gen, out[0]));
    } else {
      const auto r = issue_waiting(gen, out);
      RC_ASSERT(!r.error);
      RC_ASSERT(r.filled == n);
    }
    const std::int64_t now_after = clock.now_unix_ms() - kEpochUnixMs;
    for (const std::uint64_t id : out) {
      if (total > 0 && id <= prev) RC_FAIL("id not greater than the one before");
      if (decode(id).timestamp_ms > now_after) RC_FAIL("id from a millisecond not reached yet");
      prev = id;
      ++total;
    }
  }
  // The clock never moved on its own, so the ids are exactly the first
  // `total` slots from the starting millisecond on, and every millisecond
  // boundary crossed is one sequence wait.
  const std::int64_t start_ms = start - kEpochUnixMs;
  const auto waits = static_cast<std::int64_t>((total - 1) / kSequencePerMs);
  RC_ASSERT(clock.sleeps() == waits);
  RC_ASSERT(gen.counters().sequence_waits == static_cast<std::uint64_t>(waits));
  RC_ASSERT(gen.counters().clock_waits == 0u);
  RC_ASSERT(clock.now_unix_ms() - kEpochUnixMs == start_ms + waits);
  RC_ASSERT(decode(prev) == (IdParts{start_ms + waits, worker,
                                     static_cast<std::uint32_t>((total - 1) % kSequencePerMs)}));
}

// Two workers never collide, whatever their clocks do, including when both
// follow the very same clock (the case where every other field matches).
RC_GTEST_PROP(GeneratorProperties, DistinctWorkersNeverShareAnId, ()) {
  const auto worker_a = *rc::gen::inRange<std::uint32_t>(1, kMaxWorkerId + 1);
  const auto worker_b = *rc::gen::distinctFrom(rc::gen::inRange<std::uint32_t>(1, kMaxWorkerId + 1),
                                               worker_a);
  const bool same_clock = *rc::gen::arbitrary<bool>();
  const auto start_a = *start_unix_ms();
  const auto start_b = same_clock ? start_a : *start_unix_ms();
  const auto steps_a = *rc::gen::container<std::vector<ClockStep>>(clock_step());
  const auto steps_b =
      same_clock ? steps_a : *rc::gen::container<std::vector<ClockStep>>(clock_step());

  GeneratorUnderTest a(start_a, worker_a, 1000);
  GeneratorUnderTest b(start_b, worker_b, 1000);
  for (const auto& s : steps_a) a.apply(s);
  for (const auto& s : steps_b) b.apply(s);

  // Each list is strictly increasing (checked as it was issued), so one
  // merge-like walk finds any id the two share.
  const auto& ids_a = a.issued();
  const auto& ids_b = b.issued();
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < ids_a.size() && j < ids_b.size()) {
    if (ids_a[i] == ids_b[j]) RC_FAIL("both workers issued id " + std::to_string(ids_a[i]));
    if (ids_a[i] < ids_b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  RC_TAG(same_clock ? "same clock" : "own clocks");
}

}  // namespace
}  // namespace katsubushi::id
