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

}  // namespace
}  // namespace katsubushi::service
