#include "conform/binary_packet.hpp"

#include <gtest/gtest.h>

#include <string>

namespace katsubushi::conform {
namespace {

std::string bytes(std::string_view hex) {
  std::string out;
  std::string error;
  EXPECT_TRUE(decode_hex(hex, out, error)) << error;
  return out;
}

RequestSpec request(std::string_view fields) {
  RequestSpec spec;
  std::string error;
  EXPECT_TRUE(parse_request_fields(fields, spec, error)) << fields << ": " << error;
  return spec;
}

PacketExpectation expectation(std::string_view fields) {
  PacketExpectation want;
  std::string error;
  EXPECT_TRUE(parse_packet_fields(fields, want, error)) << fields << ": " << error;
  return want;
}

// A Get reply for id 4097 with opaque deadbeef, as memcached lays it out.
const std::string kGetReply = bytes(
    "81 00 0000 04 00 0000 00000008 deadbeef 0000000000001001"
    "00000000 34303937");

TEST(ConformBinary, RequestLengthsFollowTheParts) {
  const std::string wire = encode_request(request("op=0c key=abc opaque=deadbeef"));
  EXPECT_EQ(wire, bytes("80 0c 0003 00 00 0000 00000003 deadbeef 0000000000000000") + "abc");
}

TEST(ConformBinary, RequestFieldsOverrideLengthsForMalformedPackets) {
  const std::string wire =
      encode_request(request("op=00 key=a keylen=5 extlen=4 bodylen=0x7fffffff"));
  EXPECT_EQ(wire, bytes("80 00 0005 04 00 0000 7fffffff 00000000 0000000000000000") + "a");
  const std::string with_value =
      encode_request(request("magic=81 op=01 extras=0000000000000000 key=k value=hello world"));
  EXPECT_EQ(with_value, bytes("81 01 0001 08 00 0000 00000014 00000000 0000000000000000"
                              "0000000000000000") +
                            "khello world");
}

TEST(ConformBinary, BadRequestFieldsAreErrors) {
  RequestSpec spec;
  std::string error;
  EXPECT_FALSE(parse_request_fields("op=100", spec, error));
  EXPECT_FALSE(parse_request_fields("size=1", spec, error));
  EXPECT_NE(error.find("unknown field"), std::string::npos);
  EXPECT_FALSE(parse_request_fields("keylen=70000", spec, error));
  EXPECT_FALSE(parse_request_fields("op", spec, error));
  EXPECT_FALSE(parse_request_fields("extras=123", spec, error));
  // value= runs to the end of the line: a field after it would be swallowed.
  EXPECT_FALSE(parse_request_fields("op=fe value=abc opaque=0000fefe", spec, error));
  EXPECT_EQ(error, "value= takes the rest of the line: write opaque= before it");
  PacketExpectation want;
  EXPECT_FALSE(parse_packet_fields("value={id} cas={cas}", want, error));
  EXPECT_TRUE(parse_request_fields("op=01 value=a b=c", spec, error)) << error;
  EXPECT_EQ(spec.value, "a b=c");
}

TEST(ConformBinary, FramesAPacketOnceItIsWhole) {
  Packet p;
  std::size_t used = 0;
  std::string error;
  for (std::size_t n = 0; n < kGetReply.size(); ++n) {
    EXPECT_EQ(frame_packet(kGetReply.substr(0, n), p, used, error), FrameStatus::need_more) << n;
  }
  ASSERT_EQ(frame_packet(kGetReply + "next", p, used, error), FrameStatus::packet);
  EXPECT_EQ(used, kGetReply.size());
  EXPECT_EQ(p.header.opaque, 0xdeadbeefu);
  EXPECT_EQ(p.header.cas, 4097u);
  EXPECT_EQ(p.extras, bytes("00000000"));
  EXPECT_EQ(p.key, "");
  EXPECT_EQ(p.value, "4097");
}

TEST(ConformBinary, MalformedRepliesAreNotWaitedFor) {
  Packet p;
  std::size_t used = 0;
  std::string error;
  EXPECT_EQ(frame_packet(bytes("80 00 0000 00 00 0000 00000000 00000000 0000000000000000"), p, used,
                         error),
            FrameStatus::malformed);
  EXPECT_EQ(frame_packet(bytes("81 00 0005 00 00 0000 00000001 00000000 0000000000000000"), p, used,
                         error),
            FrameStatus::malformed);
  EXPECT_EQ(frame_packet(bytes("81 00 0000 00 00 0000 7fffffff 00000000 0000000000000000"), p, used,
                         error),
            FrameStatus::malformed);
  EXPECT_NE(error.find("limit"), std::string::npos);
}

TEST(ConformBinary, GetReplyMatchesWithCasEqualToTheId) {
  Packet p;
  std::size_t used = 0;
  std::string error;
  ASSERT_EQ(frame_packet(kGetReply, p, used, error), FrameStatus::packet);
  std::vector<std::uint64_t> ids;
  const PacketExpectation want = expectation(
      "op=00 status=0000 datatype=00 opaque=deadbeef cas={cas} extras=00000000 key= value={id}");
  ASSERT_TRUE(check_packet(want, p, ids, error)) << error;
  EXPECT_EQ(ids, std::vector<std::uint64_t>{4097});

  Packet wrong_cas = p;
  wrong_cas.header.cas = 0;
  EXPECT_FALSE(check_packet(want, wrong_cas, ids, error));
  EXPECT_NE(error.find("cas 0 is not the id"), std::string::npos) << error;

  Packet wrong_opaque = p;
  wrong_opaque.header.opaque = 0;
  EXPECT_FALSE(check_packet(want, wrong_opaque, ids, error));
  EXPECT_EQ(error, "opaque 0x00000000, expected 0xdeadbeef");

  Packet with_key = p;
  with_key.key = "a";
  EXPECT_FALSE(check_packet(want, with_key, ids, error));
  EXPECT_NE(error.find("key \"a\""), std::string::npos) << error;
}

TEST(ConformBinary, ErrorReplyValueIsAPattern) {
  Packet p;
  p.header = decode_header(bytes("81 fe 0000 00 00 0081 0000000f 0000fefe 0000000000000000"));
  p.value = "Unknown command";
  std::vector<std::uint64_t> ids;
  std::string error;
  EXPECT_TRUE(check_packet(expectation("op=fe status=0081 opaque=0000fefe value=Unknown command"),
                           p, ids, error))
      << error;
  EXPECT_FALSE(check_packet(expectation("status=0004"), p, ids, error));
  EXPECT_EQ(error, "status 0x0081, expected 0x0004");
}

TEST(ConformBinary, ExpectationFieldErrors) {
  PacketExpectation want;
  std::string error;
  EXPECT_FALSE(parse_packet_fields("cas={cas} value=x", want, error));
  EXPECT_NE(error.find("needs an {id}"), std::string::npos);
  EXPECT_FALSE(parse_packet_fields("status=12345", want, error));
  EXPECT_FALSE(parse_packet_fields("value={bogus}", want, error));
}

TEST(ConformBinary, StatsFields) {
  StatsExpectation stats;
  std::string error;
  ASSERT_TRUE(parse_stats_fields("opaque=00000010 first=pid,uptime", stats, error)) << error;
  EXPECT_EQ(stats.opaque, 0x10u);
  EXPECT_EQ(stats.first, (std::vector<std::string>{"pid", "uptime"}));
  EXPECT_FALSE(parse_stats_fields("first=pid,,uptime", stats, error));
}

TEST(ConformBinary, HeaderRoundTrips) {
  PacketHeader h;
  h.magic = 0x81;
  h.opcode = 0x10;
  h.keylen = 0x0102;
  h.extlen = 3;
  h.datatype = 4;
  h.status = 0x0506;
  h.bodylen = 0x0708090a;
  h.opaque = 0x0b0c0d0e;
  h.cas = 0x0f10111213141516;
  const std::string wire = encode_header(h);
  ASSERT_EQ(wire.size(), kHeaderBytes);
  const PacketHeader back = decode_header(wire);
  EXPECT_EQ(encode_header(back), wire);
  EXPECT_EQ(back.cas, h.cas);
  EXPECT_EQ(back.keylen, h.keylen);
}

}  // namespace
}  // namespace katsubushi::conform
