#include "service/id_service.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "service/stats.hpp"

namespace katsubushi::service {
namespace {

constexpr std::int64_t kStart = id::kEpochUnixMs + 7'000'000;

// Issues in slices of `slice` until "not before"; returns the ids issued.
std::size_t drain(IdService& ids, std::size_t slice) {
  std::vector<std::uint64_t> out(slice);
  std::size_t taken = 0;
  for (;;) {
    const auto r = ids.issue_some(out);
    EXPECT_FALSE(r.error);
    taken += r.filled;
    if (r.not_before_unix_ms != 0) return taken;
  }
}

// Two sessions' IdServices on one generator, its clock in the test's hands.
struct TwoSessions {
  id::ManualClock clock{kStart};
  id::IdGenerator generator{clock, 3};
  ProtocolCounters counters;
  IdService first{generator, counters};
  IdService second{generator, counters};
};

// A bulk session (a 2 M-key get) beside a one-id session on the same
// generator: once the one-id session has found a millisecond used up, the
// bulk session stops short of the end of each millisecond and the one-id
// session finds ids there, without waiting for the next millisecond.
TEST(IdServiceFairShare, ABulkSessionLeavesTheEndOfTheMillisecondToOthers) {
  TwoSessions rig;
  auto& [clock, generator, counters, bulk, one] = rig;
  std::uint64_t id = 0;

  EXPECT_EQ(drain(bulk, 256), id::kMaxSequence + 1u);  // alone, all of it
  EXPECT_NE(one.issue_all({&id, 1}).not_before_unix_ms, 0);
  for (int ms = 1; ms <= 5; ++ms) {
    clock.advance(1);
    EXPECT_EQ(drain(bulk, 256), id::kMaxSequence + 1u - IdService::kKeptForOthers) << ms;
    const auto r = one.issue_all({&id, 1});
    ASSERT_EQ(r.not_before_unix_ms, 0) << ms;
    EXPECT_EQ(id::decode(id).timestamp_ms, kStart + ms - id::kEpochUnixMs);
  }
  EXPECT_EQ(counters.get_hits.load(), counters.cmd_get.load());
}

// A session under kBulkAfterIds ids a millisecond (a 100-key get at a time)
// is not held back: it can take the last ids of a millisecond.
TEST(IdServiceFairShare, ASessionUnderItsShareIsNotHeldBack) {
  TwoSessions rig;
  auto& [clock, generator, counters, big, small] = rig;
  std::uint64_t id = 0;
  drain(big, 256);
  EXPECT_NE(small.issue_all({&id, 1}).not_before_unix_ms, 0);  // others are waiting now
  clock.advance(1);
  std::vector<std::uint64_t> hundred(100);
  // big takes its share and stops short; small takes 100 at a time to the end.
  EXPECT_EQ(drain(big, 256), id::kMaxSequence + 1u - IdService::kKeptForOthers);
  std::size_t small_took = 0;
  while (small.issue_all(hundred).not_before_unix_ms == 0) small_took += 100;
  EXPECT_EQ(small_took, 500u);
}

}  // namespace
}  // namespace katsubushi::service
