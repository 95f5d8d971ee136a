// Properties of the saturating deadline arithmetic the shell uses for idle
// and shutdown deadlines. Flags accept durations up to the largest int64 of
// nanoseconds, and a steady clock can read anything, so the sum is checked
// against exact 128-bit arithmetic over the whole range, extremes included.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

#include "server/deadline.hpp"

namespace katsubushi::server {
namespace {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = TimePoint::duration;
using Rep = Duration::rep;

// Any int64, with the extremes and their neighbours much more likely than
// uniform sampling would make them.
rc::Gen<Rep> any_rep() {
  constexpr Rep kMax = std::numeric_limits<Rep>::max();
  constexpr Rep kMin = std::numeric_limits<Rep>::min();
  return rc::gen::oneOf(rc::gen::arbitrary<Rep>(),
                        rc::gen::elementOf(
                            std::vector<Rep>{kMax, kMax - 1, kMin, kMin + 1, 0, 1, -1}),
                        rc::gen::map(rc::gen::inRange<Rep>(0, 1'000'000),
                                     [](Rep r) { return kMax - r; }),
                        rc::gen::map(rc::gen::inRange<Rep>(0, 1'000'000),
                                     [](Rep r) { return kMin + r; }));
}

// Exact arithmetic to check against (a GCC and Clang extension).
__extension__ using Wide = __int128;

Rep clamp_exact(Wide sum) {
  constexpr Rep kMax = std::numeric_limits<Rep>::max();
  constexpr Rep kMin = std::numeric_limits<Rep>::min();
  if (sum > kMax) return kMax;
  if (sum < kMin) return kMin;
  return static_cast<Rep>(sum);
}

RC_GTEST_PROP(DeadlineProperties, SaturatingAddIsTheExactSumClampedToTheClock, ()) {
  const Rep t = *any_rep();
  const Rep d = *any_rep();
  const TimePoint got = saturating_add(TimePoint(Duration(t)), Duration(d));
  RC_ASSERT(got.time_since_epoch().count() == clamp_exact(Wide{t} + Wide{d}));
}

RC_GTEST_PROP(DeadlineProperties, APositiveTimeoutNeverEndsBeforeItStarts, ()) {
  const Rep from = *any_rep();
  const Rep timeout = *rc::gen::inRange<Rep>(1, std::numeric_limits<Rep>::max());
  const TimePoint start{Duration(from)};
  const TimePoint deadline = deadline_after(start, Duration(timeout));
  RC_ASSERT(deadline > start || start == TimePoint::max());
}

TEST(DeadlineProperties, ZeroTimeoutMeansNever) {
  const TimePoint now = std::chrono::steady_clock::now();
  EXPECT_EQ(deadline_after(now, Duration::zero()), TimePoint::max());
  EXPECT_EQ(deadline_after(TimePoint::min(), Duration::zero()), TimePoint::max());
}

// The value Go's flag package accepts as the largest duration, from a clock
// reading of now: far in the future, never in the past.
TEST(DeadlineProperties, LongestGoDurationFromNowIsTheFarFuture) {
  const TimePoint now = std::chrono::steady_clock::now();
  const auto longest = std::chrono::hours(2562047) + std::chrono::minutes(47) +
                       std::chrono::seconds(16);
  const TimePoint deadline = deadline_after(now, std::chrono::duration_cast<Duration>(longest));
  EXPECT_GT(deadline, now);
}

}  // namespace
}  // namespace katsubushi::server
