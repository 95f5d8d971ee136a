#include "bench/binary_reply.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/requests.hpp"
#include "testing/binary_wire.hpp"
#include "testing/reply_feed.hpp"

namespace katsubushi::bench {
namespace {

using testing::error;
using testing::Recorder;
using testing::reply;

// The parser under test, as testing::feed() calls it.
const auto kParse = [](std::string_view in, Recorder& r) { return parse_binary_replies(in, r); };

// A response packet as a server writes it, with an opaque and a cas the
// parser must not care about.
std::string packet(std::uint8_t opcode, std::uint16_t status, std::string_view extras,
                   std::string_view key, std::string_view value,
                   std::uint8_t magic = testing::kResponseMagic) {
  return testing::binary_packet(magic, opcode, key, extras, value, status, 0xDEADBEEF,
                                6830153034829824001);
}

constexpr std::string_view kFlags{"\0\0\0\0", 4};

std::string wire() {
  return packet(0x00, 0, kFlags, "", "6830153034829824001") +    // get
         packet(0x0D, 0, kFlags, "k0", "1000000000000000000") +  // getkq
         packet(0x0D, 0, kFlags, "k1", "1000000000000000001") +  // getkq
         packet(0x0A, 0, "", "", "") +                           // noop: the end
         packet(0x00, 0x0001, "", "", "Not found") +             // a miss
         packet(0x09, 0x0084, "", "", "clock moved back") +      // quiet error
         packet(0x0A, 0, "", "", "") +                           //
         packet(0x00, 0x0084, "", "", "no lease") +              // get error
         packet(0x0C, 0x0004, "", "", "Invalid arguments") +     //
         packet(0x42, 0x0081, "", "", "Unknown command") +       //
         packet(0x0C, 0, kFlags, "key", "");                     // getk, empty value
}

std::vector<std::string> expected_events() {
  return {"value 6830153034829824001",   reply(ReplyEnd::end),   "value 1000000000000000000",
          "value 1000000000000000001",   reply(ReplyEnd::end),   reply(ReplyEnd::end),
          error(ReplyEnd::server_error), reply(ReplyEnd::end),   reply(ReplyEnd::server_error),
          reply(ReplyEnd::client_error), reply(ReplyEnd::error), "value ",
          reply(ReplyEnd::end)};
}

TEST(BinaryReplyTest, ReadsEveryKindOfPacketInOnePiece) {
  testing::expect_events_whole(kParse, wire(), expected_events());
}

TEST(BinaryReplyTest, SameEventsWhereverTheBytesAreCut) {
  testing::expect_events_wherever_cut(kParse, wire(), expected_events());
}

TEST(BinaryReplyTest, SameEventsByteByByte) {
  testing::expect_events_byte_by_byte(kParse, wire(), expected_events());
}

TEST(BinaryReplyTest, APacketIsConsumedOnlyWhole) {
  const std::string first = packet(0x0A, 0, "", "", "");
  const std::string second = packet(0x00, 0, kFlags, "", "12345");
  Recorder r;
  const std::string bytes = first + second.substr(0, second.size() - 1);
  const ParseResult res = parse_binary_replies(bytes, r);
  EXPECT_EQ(res.status, ParseStatus::ok);
  EXPECT_EQ(res.consumed, first.size());
  EXPECT_EQ(r.events, std::vector<std::string>{reply(ReplyEnd::end)});
}

TEST(BinaryReplyTest, BadPacketsAreMalformed) {
  std::string too_long_key = packet(0x00, 0, kFlags, "", "1");
  too_long_key[3] = 9;  // key length 9 in a 5-byte body
  std::string huge = packet(0x00, 0, kFlags, "", "1");
  huge[8] = 1;  // body length 16 MiB and more
  const std::vector<std::pair<std::string, std::string_view>> cases = {
      {packet(0x00, 0, kFlags, "", "1", 0x80), "magic is not 0x81"},
      {"VALUE k 0 1\r\n1\r\nEND\r\n", "magic is not 0x81"},  // text, not binary
      {"E", "magic is not 0x81"},                            // known from one byte
      {too_long_key, "longer than its body"},
      {huge, "over 1 MiB"},
  };
  for (const auto& [bytes, why] : cases) {
    Recorder r;
    // bad_line may be a view into the input: the input must outlive it.
    const std::string input = packet(0x0A, 0, "", "", "") + bytes;
    const ParseResult res = parse_binary_replies(input, r);
    EXPECT_EQ(res.status, ParseStatus::malformed) << why;
    EXPECT_NE(res.bad_line.find(why), std::string_view::npos) << res.bad_line;
    EXPECT_EQ(res.consumed, 24U) << why;  // the noop before it
    EXPECT_EQ(r.events, std::vector<std::string>{reply(ReplyEnd::end)});
  }
}

TEST(BinaryReplyTest, AnUnfinishedHeaderIsLeft) {
  Recorder r;
  const ParseResult res = parse_binary_replies(std::string_view("\x81\x00\x00", 3), r);
  EXPECT_EQ(res.status, ParseStatus::ok);
  EXPECT_EQ(res.consumed, 0U);
  EXPECT_TRUE(r.events.empty());
}

TEST(BinaryRequestTest, OneKeyIsAGet) {
  const std::string r = get_request(Proto::binary, "k", 1, "127.0.0.1");
  const std::string want = std::string("\x80\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02", 12) +
                           std::string(12, '\0') + "k0";
  EXPECT_EQ(r, want);
}

TEST(BinaryRequestTest, ManyKeysAreQuietGetsAndANoop) {
  const std::string r = get_request(Proto::binary, "key", 3, "127.0.0.1");
  ASSERT_EQ(r.size(), 3 * (24 + 4) + 24U);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string_view p = std::string_view(r).substr(i * 28, 28);
    EXPECT_EQ(p[0], '\x80');
    EXPECT_EQ(p[1], '\x0D') << i;  // getkq
    EXPECT_EQ(p[3], '\x04');
    EXPECT_EQ(p[11], '\x04');
    EXPECT_EQ(p.substr(24), "key" + std::to_string(i));
  }
  const std::string_view noop = std::string_view(r).substr(84);
  EXPECT_EQ(noop[0], '\x80');
  EXPECT_EQ(noop[1], '\x0A');
  EXPECT_EQ(noop.substr(2), std::string(22, '\0'));
}

}  // namespace
}  // namespace katsubushi::bench
