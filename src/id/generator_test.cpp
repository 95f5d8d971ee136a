#include "id/issue_waiting.hpp"
#include "id/generator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <thread>
#include <vector>

#include "id/clock.hpp"
#include "id/manual_clock.hpp"

namespace katsubushi::id {
namespace {

constexpr std::int64_t kStart = kEpochUnixMs + 5'000'000;  // some ms after the epoch
constexpr std::uint32_t kWorker = 7;

std::int64_t unix_ms_of(std::uint64_t id) { return decode(id).timestamp_ms + kEpochUnixMs; }

TEST(GeneratorTest, FirstIdsCarryClockWorkerAndSequence) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  ASSERT_FALSE(next_waiting(gen, a));
  ASSERT_FALSE(next_waiting(gen, b));
  EXPECT_EQ(decode(a), (IdParts{kStart - kEpochUnixMs, kWorker, 0}));
  EXPECT_EQ(decode(b), (IdParts{kStart - kEpochUnixMs, kWorker, 1}));
  EXPECT_EQ(gen.worker_id(), kWorker);
  EXPECT_EQ(gen.counters().ids_issued, 2u);
  EXPECT_EQ(gen.last_timestamp_ms(), kStart - kEpochUnixMs);

  clock.advance(3);
  std::uint64_t c = 0;
  ASSERT_FALSE(next_waiting(gen, c));
  EXPECT_EQ(decode(c), (IdParts{kStart + 3 - kEpochUnixMs, kWorker, 0}));
}

TEST(GeneratorTest, LastTimestampIsMinusOneBeforeTheFirstId) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  EXPECT_EQ(gen.last_timestamp_ms(), -1);
}

TEST(GeneratorTest, ZeroBackwardWaitStillWaitsOutAUsedUpMillisecond) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker, GeneratorOptions{.max_backward_wait_ms = 0});
  std::vector<std::uint64_t> ids(kSequencePerMs + 1);
  const auto r = issue_waiting(gen, ids);
  ASSERT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.filled, ids.size());
  EXPECT_EQ(decode(ids.back()).timestamp_ms + kEpochUnixMs, kStart + 1);
  EXPECT_EQ(gen.counters().sequence_waits, 1u);
}

TEST(GeneratorTest, FiveThousandIdsInOneMillisecondWaitExactlyOnce) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  std::vector<std::uint64_t> ids(5000);
  for (auto& id : ids) ASSERT_FALSE(next_waiting(gen, id));

  for (std::size_t i = 0; i < ids.size(); ++i) {
    const IdParts p = decode(ids[i]);
    EXPECT_EQ(p.worker_id, kWorker);
    if (i < kSequencePerMs) {
      ASSERT_EQ(p.timestamp_ms + kEpochUnixMs, kStart) << i;
      ASSERT_EQ(p.sequence, i);
    } else {
      // The 4097th id (index 4096) is the first of the next millisecond.
      ASSERT_EQ(p.timestamp_ms + kEpochUnixMs, kStart + 1) << i;
      ASSERT_EQ(p.sequence, i - kSequencePerMs);
    }
    if (i > 0) {
      ASSERT_LT(ids[i - 1], ids[i]);
    }
  }
  EXPECT_EQ(clock.sleeps(), 1);
  const auto c = gen.counters();
  EXPECT_EQ(c.sequence_waits, 1u);
  EXPECT_EQ(c.clock_waits, 0u);
  EXPECT_EQ(c.ids_issued, 5000u);
  EXPECT_EQ(c.errors, 0u);
}

TEST(GeneratorTest, BatchSpansMillisecondBoundaries) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  std::uint64_t first = 0;
  ASSERT_FALSE(next_waiting(gen, first));  // sequence 0 of kStart used

  std::vector<std::uint64_t> ids(3 * kSequencePerMs);
  const auto r = issue_waiting(gen, ids);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.filled, ids.size());

  EXPECT_LT(first, ids.front());
  for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
  // 4095 left in kStart, then 4096 in each of the next two ms, then 1.
  EXPECT_EQ(unix_ms_of(ids[0]), kStart);
  EXPECT_EQ(decode(ids[0]).sequence, 1u);
  EXPECT_EQ(unix_ms_of(ids[4094]), kStart);
  EXPECT_EQ(unix_ms_of(ids[4095]), kStart + 1);
  EXPECT_EQ(decode(ids[4095]).sequence, 0u);
  EXPECT_EQ(unix_ms_of(ids[4095 + 4096]), kStart + 2);
  EXPECT_EQ(unix_ms_of(ids.back()), kStart + 3);
  EXPECT_EQ(decode(ids.back()).sequence, 0u);
  EXPECT_EQ(gen.counters().sequence_waits, 3u);
  EXPECT_EQ(clock.sleeps(), 3);
  EXPECT_EQ(gen.counters().ids_issued, 1u + ids.size());
}

TEST(GeneratorTest, EmptyBatchIssuesNothing) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  const auto r = issue_waiting(gen, {});
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.filled, 0u);
  EXPECT_EQ(gen.counters().ids_issued, 0u);
}

TEST(GeneratorTest, ClockRewoundWithinTheLimitKeepsIdsIncreasing) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker, GeneratorOptions{.max_backward_wait_ms = 50});
  std::vector<std::uint64_t> ids;
  std::uint64_t id = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(next_waiting(gen, id));
    ids.push_back(id);
  }
  clock.set(kStart - 20);  // stepped back, less than the 50 ms we may wait
  for (int i = 0; i < 5000; ++i) {
    ASSERT_FALSE(next_waiting(gen, id)) << i;
    ids.push_back(id);
  }
  for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << i;
  // The rest of kStart's sequence was used, then the generator waited for kStart + 1.
  EXPECT_EQ(unix_ms_of(ids[kSequencePerMs - 1]), kStart);
  EXPECT_EQ(unix_ms_of(ids[kSequencePerMs]), kStart + 1);
  EXPECT_GE(clock.now_unix_ms(), kStart + 1);
  const auto c = gen.counters();
  EXPECT_EQ(c.clock_waits, 1u);
  EXPECT_EQ(c.sequence_waits, 0u);
  EXPECT_EQ(c.errors, 0u);
  EXPECT_EQ(clock.sleeps(), 1);
}

TEST(GeneratorTest, ClockRewoundBeyondTheLimitRefusesAndIssuesNothingMore) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker, GeneratorOptions{.max_backward_wait_ms = 50});
  std::uint64_t id = 0;
  ASSERT_FALSE(next_waiting(gen, id));
  std::uint64_t last = id;

  clock.set(kStart - 50);  // exactly the limit: refuse rather than wait
  // What is left of kStart's sequence is still handed out; it borrows nothing.
  for (std::uint32_t i = 1; i < kSequencePerMs; ++i) {
    ASSERT_FALSE(next_waiting(gen, id)) << i;
    ASSERT_LT(last, id);
    ASSERT_EQ(unix_ms_of(id), kStart);
    last = id;
  }
  const auto before = gen.counters();
  for (int i = 0; i < 3; ++i) {
    std::uint64_t untouched = 12345;
    EXPECT_EQ(next_waiting(gen, untouched), GeneratorErrc::clock_behind);
    EXPECT_EQ(untouched, 12345u);
  }
  std::array<std::uint64_t, 4> batch{};
  const auto r = issue_waiting(gen, batch);
  EXPECT_EQ(r.error, GeneratorErrc::clock_behind);
  EXPECT_EQ(r.filled, 0u);
  const auto after = gen.counters();
  EXPECT_EQ(after.ids_issued, before.ids_issued);
  EXPECT_EQ(after.errors, before.errors + 4);
  EXPECT_EQ(clock.sleeps(), 0);

  // Once the clock is past the last issued ms again, issuing resumes above it.
  clock.set(kStart + 1);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_LT(last, id);
  EXPECT_EQ(unix_ms_of(id), kStart + 1);
}

TEST(GeneratorTest, BatchStoppedByRewindKeepsItsIssuedPrefix) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker, GeneratorOptions{.max_backward_wait_ms = 10});
  std::uint64_t id = 0;
  ASSERT_FALSE(next_waiting(gen, id));
  clock.set(kStart - 1000);
  std::vector<std::uint64_t> batch(kSequencePerMs + 10, 0);
  const auto r = issue_waiting(gen, batch);
  EXPECT_EQ(r.error, GeneratorErrc::clock_behind);
  ASSERT_EQ(r.filled, kSequencePerMs - 1);
  EXPECT_LT(id, batch[0]);
  for (std::size_t i = 1; i < r.filled; ++i) ASSERT_LT(batch[i - 1], batch[i]);
  for (std::size_t i = r.filled; i < batch.size(); ++i) ASSERT_EQ(batch[i], 0u);
  EXPECT_EQ(gen.counters().ids_issued, kSequencePerMs);
}

TEST(GeneratorTest, BeforeEpochIsAnError) {
  ManualClock clock(kEpochUnixMs - 1);
  IdGenerator gen(clock, kWorker);
  std::uint64_t id = 0;
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::before_epoch);
  EXPECT_EQ(gen.counters().ids_issued, 0u);
  EXPECT_EQ(gen.counters().errors, 1u);

  clock.set(kEpochUnixMs);  // the epoch itself is fine
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(decode(id), (IdParts{0, kWorker, 0}));
}

TEST(GeneratorTest, TimestampOverflowIsAnError) {
  ManualClock clock(kEpochUnixMs + kMaxTimestamp);
  IdGenerator gen(clock, kWorker);
  std::uint64_t id = 0;
  ASSERT_FALSE(next_waiting(gen, id));  // the last representable ms still works
  EXPECT_EQ(decode(id), (IdParts{kMaxTimestamp, kWorker, 0}));

  clock.advance(1);
  std::uint64_t untouched = 99;
  EXPECT_EQ(next_waiting(gen, untouched), GeneratorErrc::timestamp_overflow);
  EXPECT_EQ(untouched, 99u);
  EXPECT_EQ(gen.counters().ids_issued, 1u);
}

// check_available() must answer what next() would, while issuing nothing
// and never waiting: each case checks it, then asks next() itself.
struct AvailabilityCase {
  const char* name;
  std::int64_t start_unix_ms;
  std::uint32_t ids_drawn_first;   // drawn at start_unix_ms before the clock moves
  std::int64_t then_unix_ms;       // where the clock is when asked
  std::error_code expected;
};

TEST(GeneratorTest, CheckAvailableAgreesWithNextWithoutIssuingOrWaiting) {
  const std::int64_t kLast = kEpochUnixMs + kMaxTimestamp;
  const std::vector<AvailabilityCase> cases = {
      {"fresh", kStart, 0, kStart, {}},
      {"same_ms_ids_left", kStart, 10, kStart, {}},
      {"ms_used_up_waits_for_the_next", kStart, kSequencePerMs, kStart, {}},
      {"rewound_within_limit_used_up", kStart, kSequencePerMs, kStart - 49, {}},
      {"rewound_past_limit_ids_left", kStart, 1, kStart - 500, {}},
      {"rewound_to_limit_used_up", kStart, kSequencePerMs, kStart - 50,
       GeneratorErrc::clock_behind},
      {"rewound_past_limit_used_up", kStart, kSequencePerMs, kStart - 500,
       GeneratorErrc::clock_behind},
      {"before_epoch", kStart, 0, kEpochUnixMs - 1, GeneratorErrc::before_epoch},
      {"before_epoch_after_ids", kStart, 3, kEpochUnixMs - 1, GeneratorErrc::before_epoch},
      {"past_41_bits", kStart, 0, kLast + 1, GeneratorErrc::timestamp_overflow},
      {"last_ms_ids_left", kLast, 1, kLast, {}},
      {"last_ms_used_up", kLast, kSequencePerMs, kLast, GeneratorErrc::timestamp_overflow},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ManualClock clock(c.start_unix_ms);
    IdGenerator gen(clock, kWorker, GeneratorOptions{.max_backward_wait_ms = 50});
    std::vector<std::uint64_t> first(c.ids_drawn_first);
    ASSERT_FALSE(issue_waiting(gen, first).error);
    clock.set(c.then_unix_ms);
    const auto before = gen.counters();
    const std::int64_t sleeps = clock.sleeps();

    for (int i = 0; i < 3; ++i) EXPECT_EQ(gen.check_available(), c.expected);
    const auto after = gen.counters();
    EXPECT_EQ(after.ids_issued, before.ids_issued);
    EXPECT_EQ(after.errors, before.errors);
    EXPECT_EQ(clock.sleeps(), sleeps);
    EXPECT_EQ(clock.now_unix_ms(), c.then_unix_ms);

    std::uint64_t id = 0;
    EXPECT_EQ(next_waiting(gen, id), c.expected);
  }
}

TEST(GeneratorTest, ErrorsHaveCategoryAndMessages) {
  const std::error_code behind = GeneratorErrc::clock_behind;
  EXPECT_EQ(&behind.category(), &generator_category());
  EXPECT_STREQ(generator_category().name(), "katsubushi.generator");
  EXPECT_EQ(behind.message(), "clock is behind the last issued id");
  EXPECT_EQ(std::error_code(GeneratorErrc::before_epoch).message(),
            "clock is before the id epoch");
  EXPECT_EQ(std::error_code(GeneratorErrc::timestamp_overflow).message(),
            "clock is beyond the id timestamp range");
}

// Several threads draining one generator: every id unique, each thread's
// ids increasing. Real clock, so the sequence runs out and waits for real.
void hammer(Clock& clock, int threads, int per_thread) {
  IdGenerator gen(clock, kWorker);
  std::vector<std::vector<std::uint64_t>> got(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&gen, &out = got[static_cast<std::size_t>(t)], per_thread, t] {
      out.reserve(static_cast<std::size_t>(per_thread));
      std::array<std::uint64_t, 16> batch{};
      while (out.size() < static_cast<std::size_t>(per_thread)) {
        // Odd threads take batches, even threads single ids: both paths share the lock.
        if (t % 2 == 1 && out.size() + batch.size() <= static_cast<std::size_t>(per_thread)) {
          const auto r = issue_waiting(gen, batch);
          if (r.error) return;
          out.insert(out.end(), batch.begin(), batch.begin() + static_cast<long>(r.filled));
        } else {
          std::uint64_t id = 0;
          if (next_waiting(gen, id)) return;
          out.push_back(id);
        }
      }
    });
  }
  for (auto& th : pool) th.join();

  std::vector<std::uint64_t> all;
  for (const auto& ids : got) {
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(per_thread));
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate id";
  for (auto id : all) ASSERT_EQ(decode(id).worker_id, kWorker);
  EXPECT_EQ(gen.counters().ids_issued, all.size());
  EXPECT_EQ(gen.counters().errors, 0u);
}

TEST(GeneratorTest, ThreadsOnSystemClockNeverDuplicate) {
  SystemClock clock;
  hammer(clock, 4, 50'000);
}

TEST(GeneratorTest, ThreadsOnManualClockNeverDuplicate) {
  // Time only moves when the sequence runs out, so this crosses many ms boundaries.
  ManualClock clock(kStart);
  hammer(clock, 3, 20'000);
}


// --- The issue window: floor (stored mark, fence), ceiling (reserved-until),
// lease end, stop ---

constexpr std::int64_t kNowMs = kStart - kEpochUnixMs;

TEST(GeneratorWindow, NothingAtOrBelowTheFloorUntilTheClockPassesIt) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  gen.raise_floor(kNowMs + 5);
  std::uint64_t id = 0;
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::below_floor);
  EXPECT_EQ(gen.check_available(), GeneratorErrc::below_floor);
  clock.advance(5);  // now == floor: still at it
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::below_floor);
  clock.advance(1);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(decode(id).timestamp_ms, kNowMs + 6);
  EXPECT_FALSE(gen.check_available());
  EXPECT_EQ(clock.sleeps(), 0) << "a floor is refused, never slept out";
}

TEST(GeneratorWindow, AFloorBelowWhatWasIssuedChangesNothing) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  std::uint64_t a = 0;
  ASSERT_FALSE(next_waiting(gen, a));
  gen.raise_floor(kNowMs - 10);
  gen.raise_floor(kNowMs - 20);  // never lowers
  EXPECT_EQ(gen.window().floor_ms, kNowMs - 10);
  std::uint64_t b = 0;
  ASSERT_FALSE(next_waiting(gen, b));
  EXPECT_LT(a, b);
}

TEST(GeneratorWindow, TimestampsStayBelowTheCeilingAndResumeWhenItRises) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  gen.raise_ceiling(kNowMs + 2);
  std::vector<std::uint64_t> ids(3 * kSequencePerMs);
  const auto r = issue_waiting(gen, ids);
  EXPECT_EQ(r.error, GeneratorErrc::not_reserved);
  ASSERT_EQ(r.filled, 2 * kSequencePerMs) << "the two reserved milliseconds, whole";
  EXPECT_EQ(decode(ids[r.filled - 1]).timestamp_ms, kNowMs + 1);
  EXPECT_EQ(gen.check_available(), GeneratorErrc::not_reserved);
  gen.raise_ceiling(kNowMs + 1);  // never lowers
  EXPECT_EQ(gen.window().ceiling_ms, kNowMs + 2);
  gen.raise_ceiling(kNowMs + 10);
  std::uint64_t next = 0;
  ASSERT_FALSE(next_waiting(gen, next));
  EXPECT_GT(next, ids[r.filled - 1]);
  EXPECT_EQ(decode(next).timestamp_ms, kNowMs + 2);
}

TEST(GeneratorWindow, NoIdAtOrAfterTheLeaseEnd) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  gen.set_lease(kWorker, kStart + 100);
  std::uint64_t id = 0;
  ASSERT_FALSE(next_waiting(gen, id));
  clock.advance(99);
  ASSERT_FALSE(next_waiting(gen, id));
  clock.advance(1);
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::no_lease);
  EXPECT_EQ(gen.check_available(), GeneratorErrc::no_lease);
  gen.set_lease(kWorker, kStart + 1000);
  EXPECT_FALSE(next_waiting(gen, id));
  gen.drop_lease();
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::no_lease);
}

TEST(GeneratorWindow, ANewWorkerIdStartsAboveEverythingIssuedAndWaitsForItsOwnMark) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 900);
  gen.raise_ceiling(kNowMs + 2000);
  gen.set_lease(900, kStart + 10'000);
  std::uint64_t before = 0;
  ASSERT_FALSE(next_waiting(gen, before));

  // The lease moved to a lower worker id: the same ms would be smaller.
  gen.forget(900);
  gen.set_lease(3, kStart + 10'000, {.floor_ms = kNowMs - 5, .ceiling_ms = -1});
  EXPECT_EQ(gen.worker_id(), 3u);
  std::uint64_t id = 0;
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::not_reserved) << "the new id's mark is not written";
  gen.raise_ceiling(3, kNowMs + 2001);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_GT(id, before);
  EXPECT_EQ(decode(id), (IdParts{kNowMs + 1, 3, 0})) << "below the cursor: the next millisecond";
}

TEST(GeneratorWindow, StopIssuesNothingMoreAndNamesTheMark) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  std::uint64_t id = 0;
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(gen.stop(), kNowMs);
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::stopped);
  gen.raise_ceiling(kNowMs + 100);
  gen.set_lease(kWorker, kStart + 100);
  clock.advance(10);
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::stopped);

  ManualClock clock2(kStart);
  IdGenerator unused(clock2, kWorker);
  unused.raise_floor(kNowMs + 50);
  EXPECT_EQ(unused.stop(), kNowMs + 50) << "a stop before any id keeps the stored mark";
}

// Fills calls of `chunk` ids with `keep_back` until the generator says
// "not before"; returns how many it issued.
std::size_t take_until_refused(IdGenerator& gen, std::size_t chunk, std::uint32_t keep_back) {
  std::vector<std::uint64_t> out(chunk);
  std::size_t taken = 0;
  for (;;) {
    const auto r = gen.next_batch(out, keep_back);
    EXPECT_FALSE(r.error);
    taken += r.filled;
    if (r.not_before_unix_ms != 0) return taken;
  }
}

TEST(GeneratorTest, KeepBackIsIgnoredWhileNobodyElseWasRefused) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  // A bulk caller alone gets all 4096 of every millisecond.
  EXPECT_EQ(take_until_refused(gen, 256, 512), kMaxSequence + 1u);
  clock.advance(1);
  EXPECT_EQ(take_until_refused(gen, 256, 512), kMaxSequence + 1u);
}

TEST(GeneratorTest, AfterAnUnsharedRefusalKeepBackLeavesTheEndOfEachMillisecond) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  EXPECT_EQ(take_until_refused(gen, 256, 512), kMaxSequence + 1u);
  // A one-id caller finds the millisecond used up: from now on bulk calls
  // leave it the last 512 of each millisecond.
  std::uint64_t one = 0;
  const auto refused = gen.next_batch({&one, 1});
  ASSERT_EQ(refused.not_before_unix_ms, kStart + 1);
  clock.advance(1);
  const std::size_t bulk = take_until_refused(gen, 256, 512);
  EXPECT_EQ(bulk, kMaxSequence + 1u - 512);
  for (std::uint32_t i = 0; i < 512; ++i) {
    const auto r = gen.next_batch({&one, 1});
    ASSERT_EQ(r.filled, 1u) << i;
    EXPECT_EQ(decode(one).sequence, kMaxSequence + 1 - 512 + i);
  }
  // Past kKeepBackForMs with no caller refused, bulk calls take it all again.
  clock.advance(IdGenerator::kKeepBackForMs);
  EXPECT_EQ(take_until_refused(gen, 256, 512), kMaxSequence + 1u);
}

TEST(GeneratorTest, KeepBackNeverKeepsAnAllOrNothingRequestFromFitting) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, kWorker);
  std::uint64_t one = 0;
  std::vector<std::uint64_t> all(kMaxSequence + 1);
  ASSERT_EQ(gen.next_all(all).filled, all.size());
  ASSERT_NE(gen.next_batch({&one, 1}).not_before_unix_ms, 0);  // an unshared refusal
  clock.advance(1);
  // Asked for a whole millisecond with keep_back: still served, in one.
  const auto r = gen.next_all(all, 512);
  EXPECT_EQ(r.filled, all.size());
  std::vector<std::uint64_t> most(kMaxSequence + 1 - 100);
  clock.advance(1);
  EXPECT_EQ(gen.next_all(most, 512).filled, most.size());
}

}  // namespace
}  // namespace katsubushi::id
