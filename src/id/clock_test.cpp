#include "id/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include <ctime>
#include <limits>
#include <string>

#include "id/layout.hpp"
#include "id/timefmt.hpp"

namespace katsubushi::id {
namespace {

constexpr std::int64_t kLastUnixMs = kEpochUnixMs + kMaxTimestamp;

TEST(ClockRange, TheWholeLayoutRangeIsFine) {
  EXPECT_EQ(outside_id_time_range(kEpochUnixMs), std::nullopt);
  EXPECT_EQ(outside_id_time_range(kLastUnixMs), std::nullopt);
  EXPECT_EQ(outside_id_time_range(*parse_rfc3339_ms("2024-05-01T12:00:00Z")), std::nullopt);
}

TEST(ClockRange, BeforeTheEpochNamesTheTimeAndTheFirstMillisecond) {
  const auto why = outside_id_time_range(kEpochUnixMs - 1);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("the clock reads 2014-12-31T23:59:59.999Z"), std::string::npos) << *why;
  EXPECT_NE(why->find("from 2015-01-01T00:00:00.000Z"), std::string::npos) << *why;
  EXPECT_NE(why->find("SERVER_ERROR"), std::string::npos) << *why;
}

TEST(ClockRange, PastTheRangeNamesTheTimeAndTheLastMillisecond) {
  auto why = outside_id_time_range(kLastUnixMs + 1);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("the clock reads 2084-09-06T15:47:35.552Z"), std::string::npos) << *why;
  EXPECT_NE(why->find("up to 2084-09-06T15:47:35.551Z"), std::string::npos) << *why;
  EXPECT_NE(why->find("SERVER_ERROR"), std::string::npos) << *why;

  // Past 2262, where int64 nanoseconds since 1970 end.
  why = outside_id_time_range(*parse_rfc3339_ms("2300-01-01T00:00:00Z"));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("the clock reads 2300-01-01T00:00:00.000Z"), std::string::npos) << *why;
}

TEST(SystemClockTest, ReadsTheWallClock) {
  SystemClock clock;
  // std::chrono's clock, not std::time(): glibc reads that from the coarse
  // clock, up to a tick behind, and at a second's turn it read a whole
  // second behind the clock under test.
  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t before = wall_ms() - 1000;
  const std::int64_t now = clock.now_unix_ms();
  const std::int64_t after = wall_ms() + 1000;
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
  EXPECT_EQ(outside_id_time_range(now), std::nullopt);
}

TEST(SystemClockTest, SleepUntilReachesTheTarget) {
  SystemClock clock;
  const std::int64_t target = clock.now_unix_ms() + 3;
  clock.sleep_until_unix_ms(target);
  EXPECT_GE(clock.now_unix_ms(), target);
  // A target in the past returns at once.
  clock.sleep_until_unix_ms(0);
  clock.sleep_until_unix_ms(std::numeric_limits<std::int64_t>::min());
}

}  // namespace
}  // namespace katsubushi::id
