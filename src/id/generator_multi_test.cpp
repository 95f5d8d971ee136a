// Several worker ids in one generator (-worker-id-count): within a
// millisecond the ids run through each able worker id's 4096 sequences in
// ascending worker-id order, and the cursor never moves back.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "id/generator.hpp"
#include "id/issue_waiting.hpp"
#include "id/manual_clock.hpp"

namespace katsubushi::id {
namespace {

constexpr std::int64_t kStart = kEpochUnixMs + 7'000'000;
constexpr std::int64_t kNowMs = kStart - kEpochUnixMs;

std::uint64_t id_at(std::int64_t ts, std::uint32_t worker, std::uint32_t seq) {
  return encode({ts, worker, seq});
}

// Takes single ids until the generator says "not before"; returns them.
std::vector<std::uint64_t> drain_millisecond(IdGenerator& gen) {
  std::vector<std::uint64_t> ids;
  for (;;) {
    std::uint64_t id = 0;
    const auto r = gen.next_batch({&id, 1});
    EXPECT_FALSE(r.error) << r.error.message();
    if (r.filled == 0) return ids;
    ids.push_back(id);
  }
}

TEST(MultiIdGenerator, AMillisecondRunsThroughEveryHeldIdInOrder) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 1, {.worker_id_count = 4});
  EXPECT_EQ(gen.worker_id(), 1u);
  const auto ids = drain_millisecond(gen);
  ASSERT_EQ(ids.size(), 4 * kSequencePerMs);
  for (std::size_t s = 0; s < ids.size(); ++s) {
    // ts << 22 | ((W << 12) + s): one counter over the consecutive ids.
    ASSERT_EQ(ids[s], (static_cast<std::uint64_t>(kNowMs) << 22) | ((1u << 12) + s)) << s;
  }
  clock.advance(1);
  std::uint64_t next = 0;
  ASSERT_FALSE(next_waiting(gen, next));
  EXPECT_EQ(next, id_at(kNowMs + 1, 1, 0));
  const auto held = gen.held();
  ASSERT_EQ(held.size(), 4u);
  EXPECT_EQ(held[0].ids_issued, kSequencePerMs + 1);
  EXPECT_EQ(held[3].worker_id, 4u);
  EXPECT_EQ(held[3].ids_issued, kSequencePerMs);
  EXPECT_EQ(gen.counters().ids_issued, 4 * kSequencePerMs + 1);
}

TEST(MultiIdGenerator, ABatchCrossesFromOneWorkerIdToTheNextWithinAMillisecond) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 10, {.worker_id_count = 2});
  std::vector<std::uint64_t> first(kSequencePerMs - 2);
  ASSERT_EQ(gen.next_batch(first).filled, first.size());
  std::vector<std::uint64_t> across(5);
  const auto r = gen.next_all(across);
  ASSERT_EQ(r.filled, 5u);
  EXPECT_EQ(across[0], id_at(kNowMs, 10, kMaxSequence - 1));
  EXPECT_EQ(across[1], id_at(kNowMs, 10, kMaxSequence));
  EXPECT_EQ(across[2], id_at(kNowMs, 11, 0));
  EXPECT_EQ(across[4], id_at(kNowMs, 11, 2));
  // All or nothing: more than what is left of the millisecond waits whole.
  std::vector<std::uint64_t> too_many(kSequencePerMs);
  const auto refused = gen.next_all(too_many);
  EXPECT_EQ(refused.filled, 0u);
  EXPECT_EQ(refused.not_before_unix_ms, kStart + 1);
}

TEST(MultiIdGenerator, ALostIdIsSkippedAndTheOthersServe) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 1, {.worker_id_count = 3});
  gen.drop_lease(2);
  const auto ids = drain_millisecond(gen);
  ASSERT_EQ(ids.size(), 2 * kSequencePerMs) << "capacity shrinks";
  EXPECT_EQ(ids[kSequencePerMs - 1], id_at(kNowMs, 1, kMaxSequence));
  EXPECT_EQ(ids[kSequencePerMs], id_at(kNowMs, 3, 0)) << "worker id 2's range is skipped";
  const auto held = gen.held();
  EXPECT_EQ(held[1].refusal, GeneratorErrc::no_lease);
  EXPECT_FALSE(held[0].refusal);
  EXPECT_FALSE(gen.check_available()) << "the others still serve";
  gen.drop_lease(1);
  gen.drop_lease(3);
  std::uint64_t id = 0;
  clock.advance(1);
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::no_lease);
  EXPECT_EQ(gen.check_available(), GeneratorErrc::no_lease);
}

TEST(MultiIdGenerator, AnIdRegainedBelowTheCursorWaitsForTheNextMillisecond) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 1, {.worker_id_count = 3});
  gen.drop_lease(1);
  std::uint64_t a = 0;
  ASSERT_FALSE(next_waiting(gen, a));
  EXPECT_EQ(a, id_at(kNowMs, 2, 0));
  gen.set_lease(1, kStart + 10'000);  // back, but below the cursor
  std::uint64_t b = 0;
  ASSERT_FALSE(next_waiting(gen, b));
  EXPECT_EQ(b, id_at(kNowMs, 2, 1));
  const auto rest = drain_millisecond(gen);
  EXPECT_EQ(rest.size(), 2 * kSequencePerMs - 2) << "worker id 1 is not used in this millisecond";
  EXPECT_EQ(rest.back(), id_at(kNowMs, 3, kMaxSequence));
  clock.advance(1);
  std::uint64_t c = 0;
  ASSERT_FALSE(next_waiting(gen, c));
  EXPECT_EQ(c, id_at(kNowMs + 1, 1, 0));
}

TEST(MultiIdGenerator, AnIdGainedAboveTheCursorServesInTheSameMillisecond) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 0);  // leased: none held yet
  std::uint64_t id = 0;
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::no_lease);
  gen.set_lease(5, kStart + 1000);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(id, id_at(kNowMs, 5, 0));
  gen.set_lease(9, kStart + 1000, {.floor_ms = kNowMs - 1, .ceiling_ms = kNowMs + 100});
  gen.set_lease(3, kStart + 1000);
  std::vector<std::uint64_t> ids(kSequencePerMs);
  ASSERT_EQ(gen.next_batch(ids).filled, ids.size());
  EXPECT_EQ(ids.back(), id_at(kNowMs, 9, 0)) << "worker id 3 is below the cursor";
  EXPECT_EQ(gen.worker_id(), 3u) << "the lowest held";
  gen.forget(5);
  EXPECT_EQ(gen.held().size(), 2u);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(id, id_at(kNowMs, 9, 1));
}

TEST(MultiIdGenerator, EachIdHasItsOwnFenceAndMark) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 0);
  gen.set_lease(1, kStart + 1000, {.floor_ms = kNowMs, .ceiling_ms = -1});  // fenced at now
  gen.set_lease(2, kStart + 1000, {.floor_ms = -1, .ceiling_ms = -1});
  std::uint64_t id = 0;
  EXPECT_EQ(next_waiting(gen, id), GeneratorErrc::below_floor) << "the lowest id's reason";
  gen.raise_ceiling(2, kNowMs + 5);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(id, id_at(kNowMs, 2, 0)) << "1 is at its fence, 2 serves";
  gen.raise_ceiling(1, kNowMs + 5);
  clock.advance(1);
  ASSERT_FALSE(next_waiting(gen, id));
  EXPECT_EQ(id, id_at(kNowMs + 1, 1, 0));
  EXPECT_EQ(gen.stop(), kNowMs + 1);

  ManualClock clock2(kStart);
  IdGenerator fenced(clock2, 0);
  fenced.set_lease(4, kStart + 1000, {.floor_ms = kNowMs + 50, .ceiling_ms = -1});
  fenced.forget(4);
  EXPECT_EQ(fenced.stop(), kNowMs + 50) << "a fence found is part of the last mark";
}

TEST(MultiIdGenerator, KeepBackHoldsTheEndOfTheLastAbleId) {
  ManualClock clock(kStart);
  IdGenerator gen(clock, 1, {.worker_id_count = 2});
  std::vector<std::uint64_t> all(std::size_t{2} * kSequencePerMs);
  ASSERT_EQ(issue_waiting(gen, all).filled, all.size());
  std::uint64_t one = 0;
  ASSERT_NE(gen.next_batch({&one, 1}).not_before_unix_ms, 0);  // an unshared refusal
  clock.advance(1);
  std::vector<std::uint64_t> chunk(256);
  std::size_t taken = 0;
  for (;;) {
    const auto r = gen.next_batch(chunk, 512);
    taken += r.filled;
    if (r.not_before_unix_ms != 0) break;
  }
  EXPECT_EQ(taken, 2 * kSequencePerMs - 512);
  ASSERT_EQ(gen.next_batch({&one, 1}).filled, 1u);
  EXPECT_EQ(one, id_at(kNowMs + 1, 2, kSequencePerMs - 512));
}

}  // namespace
}  // namespace katsubushi::id
