#include "id/timefmt.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "id/layout.hpp"

namespace katsubushi::id {
namespace {

TEST(TimeFormatTest, FormatsKnownInstants) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(kEpochUnixMs), "2015-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(1504494731615), "2017-09-04T03:12:11.615Z");
  EXPECT_EQ(format_rfc3339_ms(951782400000), "2000-02-29T00:00:00.000Z");  // leap day
  EXPECT_EQ(format_rfc3339_ms(4102444799999), "2099-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
}

TEST(TimeFormatTest, ParsesKnownInstants) {
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00Z"), kEpochUnixMs);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00.000Z"), kEpochUnixMs);
  EXPECT_EQ(parse_rfc3339_ms("2017-09-04T03:12:11.615Z"), 1504494731615);
  EXPECT_EQ(parse_rfc3339_ms("2000-02-29T00:00:00Z"), 951782400000);
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
}

TEST(TimeFormatTest, RoundTripsFormatThenParse) {
  const std::int64_t instants[] = {
      0,
      kEpochUnixMs,
      kEpochUnixMs + 1,
      1504494731615,
      951868799999,  // 2000-02-29T23:59:59.999Z
      kEpochUnixMs + kMaxTimestamp,  // the last ms an id can hold (year 2084)
      253402300799999,  // 9999-12-31T23:59:59.999Z
  };
  for (auto ms : instants) {
    const std::string text = format_rfc3339_ms(ms);
    EXPECT_EQ(parse_rfc3339_ms(text), ms) << text;
  }
  for (std::int64_t ms = kEpochUnixMs; ms < kEpochUnixMs + 400LL * 86'400'000 * 366;
       ms += 86'400'000LL * 7 + 3'723'456) {
    ASSERT_EQ(parse_rfc3339_ms(format_rfc3339_ms(ms)), ms);
  }
}

TEST(TimeFormatTest, RoundTripsParseThenFormat) {
  for (const char* text : {"2015-01-01T00:00:00.000Z", "2016-02-29T12:34:56.789Z",
                           "2038-01-19T03:14:08.000Z", "2084-09-07T15:47:35.551Z"}) {
    const auto ms = parse_rfc3339_ms(text);
    ASSERT_TRUE(ms) << text;
    EXPECT_EQ(format_rfc3339_ms(*ms), text);
  }
}

TEST(TimeFormatTest, AppliesOffsets) {
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T09:00:00+09:00"), kEpochUnixMs);
  EXPECT_EQ(parse_rfc3339_ms("2014-12-31T19:00:00-05:00"), kEpochUnixMs);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T05:30:00.250+05:30"), kEpochUnixMs + 250);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00+00:00"), kEpochUnixMs);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00-00:00"), kEpochUnixMs);
}

TEST(TimeFormatTest, AcceptsLenientSpellings) {
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01t00:00:00z"), kEpochUnixMs);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01 00:00:00Z"), kEpochUnixMs);
  // Fractions: fewer digits scale up, more are truncated to the millisecond.
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00.5Z"), kEpochUnixMs + 500);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00.12Z"), kEpochUnixMs + 120);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:00.123999999Z"), kEpochUnixMs + 123);
}

TEST(TimeFormatTest, RejectsInvalidDates) {
  EXPECT_EQ(parse_rfc3339_ms("2015-13-01T00:00:00Z"), std::nullopt);  // month 13
  EXPECT_EQ(parse_rfc3339_ms("2015-00-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_ms("2016-02-30T00:00:00Z"), std::nullopt);  // Feb 30
  EXPECT_EQ(parse_rfc3339_ms("2015-02-29T00:00:00Z"), std::nullopt);  // not a leap year
  EXPECT_EQ(parse_rfc3339_ms("1900-02-29T00:00:00Z"), std::nullopt);  // century, not leap
  EXPECT_TRUE(parse_rfc3339_ms("2016-02-29T00:00:00Z"));
  EXPECT_EQ(parse_rfc3339_ms("2015-04-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-00T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-32T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T24:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:60:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_ms("2015-01-01T00:00:61Z"), std::nullopt);
}

TEST(TimeFormatTest, RejectsGarbage) {
  const char* bad[] = {
      "",
      "garbage",
      "2015",
      "2015-01-01",
      "2015-01-01T00:00:00",         // no zone
      "2015-01-01T00:00:00.Z",       // empty fraction
      "2015-01-01T00:00:00Zjunk",    // trailing bytes
      "2015-01-01T00:00:00+09",      // short offset
      "2015-01-01T00:00:00+0900",
      "2015-01-01T00:00:00+24:00",
      "2015-01-01T00:00:00+09:60",
      "2015-01-01X00:00:00Z",
      "2015/01/01T00:00:00Z",
      "20a5-01-01T00:00:00Z",
      "2015-01-01T00:00:00 Z",
      " 2015-01-01T00:00:00Z",
      "1504494731615",
  };
  for (const char* text : bad) EXPECT_EQ(parse_rfc3339_ms(text), std::nullopt) << text;
}

}  // namespace
}  // namespace katsubushi::id
