#include "config/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

namespace katsubushi::config {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

std::optional<nanoseconds> ns(nanoseconds d) { return d; }

TEST(DurationTest, ParsesGoForms) {
  EXPECT_EQ(parse_duration("600s"), ns(600s));
  EXPECT_EQ(parse_duration("10m"), ns(10min));
  EXPECT_EQ(parse_duration("1h30m"), ns(90min));
  EXPECT_EQ(parse_duration("1h30m15s"), ns(1h + 30min + 15s));
  EXPECT_EQ(parse_duration("1.5s"), ns(1500ms));
  EXPECT_EQ(parse_duration(".5s"), ns(500ms));
  EXPECT_EQ(parse_duration("2.5h"), ns(150min));
  EXPECT_EQ(parse_duration("500ms"), ns(500ms));
  EXPECT_EQ(parse_duration("2us"), ns(2us));
  EXPECT_EQ(parse_duration("2\xc2\xb5s"), ns(2us));  // U+00B5 micro sign
  EXPECT_EQ(parse_duration("2\xce\xbcs"), ns(2us));  // U+03BC greek mu
  EXPECT_EQ(parse_duration("7ns"), ns(7ns));
  EXPECT_EQ(parse_duration("1m0.001s"), ns(60001ms));
  EXPECT_EQ(parse_duration("+5s"), ns(5s));
}

TEST(DurationTest, ZeroAndPlainSecondsAreAccepted) {
  EXPECT_EQ(parse_duration("0"), ns(0s));
  EXPECT_EQ(parse_duration("0s"), ns(0s));
  EXPECT_EQ(parse_duration("600"), ns(600s));
  EXPECT_EQ(parse_duration("1"), ns(1s));
  EXPECT_EQ(parse_duration("007"), ns(7s));
}

TEST(DurationTest, FractionsBeyondNanosecondsAreDropped) {
  EXPECT_EQ(parse_duration("1.0000000001s"), ns(1s));
  EXPECT_EQ(parse_duration("0.1234567891234567891234s"), ns(123456789ns));
}

TEST(DurationTest, RejectsMalformed) {
  const char* bad[] = {
      "",     "-1s", "-5m", "s",    "10x",  "1.5",  "ms",   "1s2",  "1 s",  " 1s",
      "1s ",  ".s",  "+",   "1..5s", "1h-1m", "5S",  "5sec", "abc",  "1e3s", "0x10s",
  };
  for (const char* text : bad) EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
}

TEST(DurationTest, RejectsOverflow) {
  // int64 nanoseconds end near 292 years (about 2562047 hours).
  EXPECT_TRUE(parse_duration("2562047h"));
  EXPECT_EQ(parse_duration("2562048h"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775808ns"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775807ns"), ns(nanoseconds::max()));
  EXPECT_EQ(parse_duration("99999999999999999999999s"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999"), std::nullopt);  // plain seconds too
  EXPECT_EQ(parse_duration("2562047h2562047h"), std::nullopt);      // sum overflows
}

TEST(DurationTest, FormatsShortestSpelling) {
  EXPECT_EQ(format_duration(600s), "600s");
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(2us), "2us");
  EXPECT_EQ(format_duration(2500ns), "2500ns");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  for (nanoseconds d : {nanoseconds(0s), nanoseconds(600s), nanoseconds(1500ms),
                        nanoseconds(2us), nanoseconds(2500ns), nanoseconds(36h)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), ns(d)) << format_duration(d);
  }
}

}  // namespace
}  // namespace katsubushi::config
