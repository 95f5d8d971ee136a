#include "service/ascii.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace katsubushi::service {
namespace {

TEST(Ascii, IequalsFoldsAsciiLettersOnBothSides) {
  EXPECT_TRUE(iequals_ascii("GeT", "get"));
  EXPECT_TRUE(iequals_ascii("chunked", "CHUNKED"));
  EXPECT_TRUE(iequals_ascii("", ""));
  EXPECT_FALSE(iequals_ascii("get", "gets"));
  EXPECT_FALSE(iequals_ascii("get", "got"));
  // Only A-Z fold: '@' and '`', '[' and '{' stay apart, as do bytes past ASCII.
  EXPECT_FALSE(iequals_ascii("@", "`"));
  EXPECT_FALSE(iequals_ascii("[", "{"));
  EXPECT_FALSE(iequals_ascii("\xC3", "\xE3"));
  static_assert(iequals_ascii("STATS", "stats"));
}

TEST(Ascii, DecimalDigitsOfAnyUint64) {
  EXPECT_EQ(DecimalDigits(0).view(), "0");
  EXPECT_EQ(DecimalDigits(7).size(), 1u);
  EXPECT_EQ(DecimalDigits(1234567890123456789u).view(), "1234567890123456789");
  const std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(DecimalDigits(most).view(), std::to_string(most));
  EXPECT_EQ(DecimalDigits(most).size(), kMaxUint64Digits);
}

// Every number in a run reads as std::to_string writes it, whether it is one
// more than the last (stepped in place, carries and a new digit included) or
// anything else.
TEST(Ascii, DecimalRunReadsAsToStringAcrossStepsCarriesAndJumps) {
  DecimalRun run;
  const auto expect_run = [&run](std::uint64_t from, std::uint64_t count) {
    for (std::uint64_t v = from; v < from + count; ++v) {
      ASSERT_EQ(run.next(v), std::to_string(v)) << "at " << v;
    }
  };
  expect_run(0, 1'001);                        // 9 -> 10, 99 -> 100, 999 -> 1000
  expect_run(1'575'740'117'144'834'040, 30);   // an id's digits, a carry into the tens
  expect_run(9'999'999'999'999'999'990U, 20);  // 19 nines -> 20 digits
  const std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  expect_run(most - 5, 5);
  EXPECT_EQ(run.next(most), std::to_string(most));
  // Not one more: backwards, the same again, a jump, a wrap to zero.
  for (const std::uint64_t v :
       {std::uint64_t{41}, std::uint64_t{41}, std::uint64_t{40}, std::uint64_t{1'000'000},
        std::uint64_t{999'999}, most, std::uint64_t{0}, std::uint64_t{1}}) {
    EXPECT_EQ(run.next(v), std::to_string(v)) << "at " << v;
  }
}

}  // namespace
}  // namespace katsubushi::service
