#include "bench/reply_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "testing/reply_feed.hpp"

namespace katsubushi::bench {
namespace {

using testing::Recorder;
using testing::reply;

// The parser under test, as testing::feed() calls it.
const auto kParse = [](std::string_view in, Recorder& r) { return parse_replies(in, r); };

constexpr std::string_view kWire =
    "VALUE id 0 19\r\n6830153034829824001\r\nEND\r\n"
    "VALUE k0 0 19 77\r\n1000000000000000000\r\nVALUE k1 5 3\r\na\nb\r\nEND\r\n"
    "STORED\r\n"
    "ERROR\r\n"
    "CLIENT_ERROR bad command line format\r\n"
    "SERVER_ERROR too many open connections\r\n"
    "VALUE e 0 0\r\n\r\nEND\r\n";

std::vector<std::string> expected_events() {
  return {"value 6830153034829824001", reply(ReplyEnd::end),
          "value 1000000000000000000", "value a\nb",
          reply(ReplyEnd::end),        reply(ReplyEnd::stored),
          reply(ReplyEnd::error),      reply(ReplyEnd::client_error),
          reply(ReplyEnd::server_error), "value ",
          reply(ReplyEnd::end)};
}

TEST(ReplyParserTest, ReadsEveryKindOfReplyInOnePiece) {
  testing::expect_events_whole(kParse, kWire, expected_events());
}

TEST(ReplyParserTest, SameEventsWhereverTheBytesAreCut) {
  testing::expect_events_wherever_cut(kParse, kWire, expected_events());
}

TEST(ReplyParserTest, SameEventsByteByByte) {
  testing::expect_events_byte_by_byte(kParse, kWire, expected_events());
}

TEST(ReplyParserTest, AValueIsConsumedOnlyWithItsWholeDataBlock) {
  Recorder r;
  const std::string_view partial = "END\r\nVALUE id 0 19\r\n6830153034";
  const ParseResult res = parse_replies(partial, r);
  EXPECT_EQ(res.status, ParseStatus::ok);
  EXPECT_EQ(res.consumed, 5U);  // END only
  EXPECT_EQ(r.events, std::vector<std::string>{reply(ReplyEnd::end)});
}

TEST(ReplyParserTest, AnUnfinishedLineIsLeft) {
  Recorder r;
  const ParseResult res = parse_replies("VALUE id 0 1", r);
  EXPECT_EQ(res.status, ParseStatus::ok);
  EXPECT_EQ(res.consumed, 0U);
  EXPECT_TRUE(r.events.empty());
}

TEST(ReplyParserTest, MalformedInputIsReportedWithTheLine) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"HELLO\r\n", "HELLO"},
      {"END\n", "END"},                         // no \r
      {"\n", ""},                               // a bare newline
      {"VALUE k 0\r\n", "VALUE k 0"},           // no length
      {"VALUE k 0 x\r\n", "VALUE k 0 x"},       // length not a number
      {"VALUE k 0 -1\r\n", "VALUE k 0 -1"},     // negative
      {"VALUE k 0 1 2 3\r\n", "VALUE k 0 1 2 3"},  // a token too many
      {"VALUE k 0 2\r\nabc\r\n", "VALUE k 0 2"},   // block longer than said
      {"ENDX\r\n", "ENDX"},
      {"SERVER_ERRORx\r\n", "SERVER_ERRORx"},
      {"VALUE k 0 99999999999\r\n", "VALUE k 0 99999999999"},  // over the data cap
  };
  for (const auto& [wire, line] : cases) {
    Recorder r;
    const ParseResult res = parse_replies(wire, r);
    EXPECT_EQ(res.status, ParseStatus::malformed) << wire;
    EXPECT_EQ(res.bad_line, line) << wire;
    EXPECT_EQ(res.consumed, 0U) << wire;
  }
}

TEST(ReplyParserTest, RepliesBeforeAMalformedLineAreDelivered) {
  Recorder r;
  const ParseResult res = parse_replies("STORED\r\nVALUE\r\n", r);
  EXPECT_EQ(res.status, ParseStatus::malformed);
  EXPECT_EQ(res.consumed, 8U);
  EXPECT_EQ(r.events, std::vector<std::string>{reply(ReplyEnd::stored)});
}

TEST(ReplyParserTest, ErrorsAreErrorsAndTheRestAreNot) {
  EXPECT_TRUE(is_error(ReplyEnd::error));
  EXPECT_TRUE(is_error(ReplyEnd::client_error));
  EXPECT_TRUE(is_error(ReplyEnd::server_error));
  EXPECT_FALSE(is_error(ReplyEnd::end));
  EXPECT_FALSE(is_error(ReplyEnd::stored));
}

}  // namespace
}  // namespace katsubushi::bench
