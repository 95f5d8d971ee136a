#include "conform/pattern_match.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "conform/pattern_test_support.hpp"

namespace katsubushi::conform {
namespace {

using pattern_test::parsed;

MatchResult stream(std::string_view pattern, std::string_view input) {
  return match_pattern(parsed(pattern), input, false);
}

MatchResult whole(std::string_view pattern, std::string_view input) {
  return match_pattern(parsed(pattern), input, true);
}

TEST(ConformPattern, ValueReplyMatchesAndReportsTheId) {
  const std::string reply = "VALUE a 0 19 1576266257940959232\r\n1576266257940959232\r\nEND\r\n";
  const MatchResult m = stream("VALUE a 0 {id-len} {cas}\\r\\n{id}\\r\\nEND\\r\\n", reply + "rest");
  ASSERT_EQ(m.status, MatchStatus::matched) << m.detail;
  EXPECT_EQ(m.consumed, reply.size());
  ASSERT_EQ(m.ids.size(), 1u);
  EXPECT_EQ(m.ids[0], 1576266257940959232u);
}

TEST(ConformPattern, EveryProperPrefixOfAReplyNeedsMore) {
  const std::string pattern =
      "VALUE a 0 {id-len} {cas}\\r\\n{id}\\r\\n{stat-lines}{error}\\r\\nEND\\r\\n";
  const std::string reply =
      "VALUE a 0 4 4097\r\n4097\r\nSTAT x 1\r\nSTAT y 2\r\nCLIENT_ERROR nope\r\nEND\r\n";
  for (std::size_t n = 0; n < reply.size(); ++n) {
    const MatchResult m = stream(pattern, reply.substr(0, n));
    EXPECT_EQ(m.status, MatchStatus::need_more) << "prefix of " << n << ": " << m.detail;
  }
  EXPECT_EQ(stream(pattern, reply).status, MatchStatus::matched);
}

TEST(ConformPattern, MismatchSaysWhereAndWhat) {
  const MatchResult m = stream("VALUE a 0 {id-len}\\r\\n{id}\\r\\nEND\\r\\n", "VALUE b 0 4\r\n");
  ASSERT_EQ(m.status, MatchStatus::mismatch);
  EXPECT_EQ(m.at, 6u);
  EXPECT_EQ(m.detail, "expected \"VALUE a 0 \", got \"VALUE b 0 4\\r\\n\"");
  // Far into a long literal, from the difference on.
  const MatchResult far = stream("get {40*k}\\r\\n", "get " + std::string(30, 'k') + "x");
  ASSERT_EQ(far.status, MatchStatus::mismatch);
  EXPECT_EQ(far.at, 34u);
  EXPECT_EQ(far.detail, "expected \"kkkkkkkkkk\\r\\n\", got \"x\"");
}

TEST(ConformPattern, IdLengthAndCasMustAgreeWithTheId) {
  EXPECT_EQ(stream("{id-len} {cas}\\r\\n{id}\\r\\n", "4 4097\r\n4097\r\n").status,
            MatchStatus::matched);
  const MatchResult len = stream("{id-len}\\r\\n{id}\\r\\n", "5\r\n4097\r\n");
  ASSERT_EQ(len.status, MatchStatus::mismatch);
  EXPECT_NE(len.detail.find("{id-len} said 5"), std::string::npos) << len.detail;
  const MatchResult cas = stream("{cas}\\r\\n{id}\\r\\n", "4098\r\n4097\r\n");
  ASSERT_EQ(cas.status, MatchStatus::mismatch);
  EXPECT_NE(cas.detail.find("{cas} 4098 is not the id 4097"), std::string::npos) << cas.detail;
}

TEST(ConformPattern, IdsAreUint64WithBit63Clear) {
  EXPECT_EQ(stream("{id}\\r\\n", "9223372036854775807\r\n").status, MatchStatus::matched);
  const MatchResult bit63 = stream("{id}\\r\\n", "9223372036854775808\r\n");
  ASSERT_EQ(bit63.status, MatchStatus::mismatch);
  EXPECT_NE(bit63.detail.find("bit 63"), std::string::npos);
  const MatchResult big = stream("{id}\\r\\n", "18446744073709551616\r\n");
  ASSERT_EQ(big.status, MatchStatus::mismatch);
  EXPECT_NE(big.detail.find("not a uint64"), std::string::npos);
  EXPECT_EQ(stream("{id}\\r\\n", "-1\r\n").status, MatchStatus::mismatch);
  EXPECT_EQ(stream("{id}\\r\\n", "\r\n").status, MatchStatus::mismatch);
}

TEST(ConformPattern, ErrorLineIsAnyOfTheThreeKinds) {
  const std::string p = "{error}\\r\\nMN\\r\\n";
  EXPECT_EQ(stream(p, "ERROR\r\nMN\r\n").status, MatchStatus::matched);
  EXPECT_EQ(stream(p, "CLIENT_ERROR bad command line format\r\nMN\r\n").status,
            MatchStatus::matched);
  EXPECT_EQ(stream(p, "SERVER_ERROR out of ids\r\nMN\r\n").status, MatchStatus::matched);
  EXPECT_EQ(stream(p, "CLIENT_").status, MatchStatus::need_more);
  EXPECT_EQ(stream(p, "HD\r\nMN\r\n").status, MatchStatus::mismatch);
  // Two errors where one was expected: the stream was not kept in sync.
  EXPECT_EQ(stream(p, "ERROR\r\nERROR\r\nMN\r\n").status, MatchStatus::mismatch);
}

TEST(ConformPattern, StatLinesTakeZeroOrMore) {
  const std::string p = "{stat-lines}END\\r\\n";
  EXPECT_EQ(stream(p, "END\r\n").status, MatchStatus::matched);
  EXPECT_EQ(stream(p, "STAT a 1\r\nSTAT b two words\r\nEND\r\n").status, MatchStatus::matched);
  EXPECT_EQ(stream(p, "STAT a 1\r\nST").status, MatchStatus::need_more);
  EXPECT_EQ(stream(p, "ERROR\r\n").status, MatchStatus::mismatch);
  EXPECT_EQ(stream(p, "STAT a 1\nEND\r\n").status, MatchStatus::mismatch);
}

TEST(ConformPattern, NumAnyAndWs) {
  EXPECT_EQ(stream("t{num} x\\r\\n", "t-1 x\r\n").status, MatchStatus::matched);
  EXPECT_EQ(stream("t{num} x\\r\\n", "t- x\r\n").status, MatchStatus::mismatch);
  EXPECT_EQ(stream("VERSION {any}\\r\\n", "VERSION 1.2.3\r\n").status, MatchStatus::matched);
  EXPECT_EQ(stream("VERSION {any}\\r\\n", "VERSION 1.2").status, MatchStatus::need_more);
  EXPECT_EQ(whole("{id}{ws}", "4097\n").status, MatchStatus::matched);
  EXPECT_EQ(whole("{id}{ws}", "4097").status, MatchStatus::matched);
  EXPECT_EQ(whole("{id}{ws}", "4097\nx").status, MatchStatus::mismatch);
}

TEST(ConformPattern, CompleteInputMustBeAllMatched) {
  EXPECT_EQ(whole("ok", "ok").status, MatchStatus::matched);
  EXPECT_EQ(whole("ok", "o").status, MatchStatus::mismatch);
  EXPECT_EQ(whole("ok", "okay").status, MatchStatus::mismatch);
  EXPECT_EQ(whole("", "").status, MatchStatus::matched);
  EXPECT_EQ(whole("{any}", "a b c").status, MatchStatus::matched);
}

TEST(ConformPattern, ParseIdTakesDecimalUint64WithBit63Clear) {
  std::uint64_t id = 0;
  std::string error;
  ASSERT_TRUE(parse_id("4097", id, error)) << error;
  EXPECT_EQ(id, 4097u);
  EXPECT_FALSE(parse_id("", id, error));
  EXPECT_FALSE(parse_id("12a", id, error));
  EXPECT_FALSE(parse_id("9223372036854775808", id, error));
  EXPECT_NE(error.find("bit 63"), std::string::npos) << error;
}

}  // namespace
}  // namespace katsubushi::conform
