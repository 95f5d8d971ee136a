// The memcached binary protocol, packet by packet: each request fed whole,
// split at every byte offset and one byte at a time must get the same reply,
// written out here by hand from the protocol's layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.hpp"
#include "id/issue_waiting.hpp"
#include "testing/binary_wire.hpp"
#include "testing/session_test_util.hpp"

namespace katsubushi::proto::test {

using namespace katsubushi::testing;
namespace {

const std::string kFlags(4, '\0');

std::string get_reply(std::uint8_t opcode, std::string_view key, std::uint64_t id,
                      std::uint32_t opaque) {
  return binary_packet(0x81, opcode, key, kFlags, std::to_string(id), 0, opaque, id);
}

TEST(BinarySession, GetFamilyAnswersTheIdAsValueAndCasWithFlagsAndTheOpaque) {
  const std::string in = binary_request(0x00, "a", 11) + binary_request(0x09, "b", 12) +
                         binary_request(0x0C, "c", 13) + binary_request(0x0D, "d", 14);
  const Outcome o = run_every_chunking(in);
  EXPECT_EQ(escaped(o.output),
            escaped(get_reply(0x00, "", rig_id(0), 11) + get_reply(0x09, "", rig_id(1), 12) +
                    get_reply(0x0C, "c", rig_id(2), 13) + get_reply(0x0D, "d", rig_id(3), 14)));
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.completed, 4u);
  EXPECT_EQ(o.ids_issued, 4u);
  EXPECT_EQ(o.cmd_get, 4u);
  EXPECT_EQ(o.get_hits, 4u);
}

// libmemcached's multi-get (GetKQ… Noop) and the GetQ… Noop variant: quiet
// gets that hit are answered (only misses are quiet), all in one go.
TEST(BinarySession, QuietGetBatchClosedByNoopIsAnsweredInOneProcessCall) {
  for (const std::uint8_t opcode : {std::uint8_t{0x0D}, std::uint8_t{0x09}}) {
    SCOPED_TRACE(opcode);
    const bool with_key = opcode == 0x0D;
    std::string in, want;
    for (std::uint32_t i = 0; i < 100; ++i) {
      const std::string key = "key" + std::to_string(i);
      in += binary_request(opcode, key, i);
      want += get_reply(opcode, with_key ? key : "", rig_id(i), i);
    }
    in += binary_request(0x0A, {}, 777);
    want += binary_packet(0x81, 0x0A, {}, {}, {}, 0, 777);
    SessionRig rig;
    rig.receive(in);
    rig.core.process();
    EXPECT_EQ(escaped(std::string(rig.core.output())), escaped(want));
    EXPECT_EQ(rig.counters.cmd_get.load(), 100u);
    EXPECT_EQ(rig.counters.get_hits.load(), 100u);
    EXPECT_EQ(run_every_chunking(in).output, want);
  }
}

TEST(BinarySession, NoopVersionStatAndQuit) {
  const std::string in = binary_request(0x0A, {}, 1) + binary_request(0x0B, {}, 2) +
                         binary_request(0x10, {}, 3) + binary_request(0x10, "SETTINGS", 4) +
                         binary_request(0x07, {}, 5) + binary_request(0x0A, {}, 6);
  const Outcome o = run_every_chunking(in);
  const std::string want = binary_packet(0x81, 0x0A, {}, {}, {}, 0, 1) +
                           binary_packet(0x81, 0x0B, {}, {}, kVersion, 0, 2) +
                           binary_packet(0x81, 0x10, "pid", {}, "4242", 0, 3) +
                           binary_packet(0x81, 0x10, "uptime", {}, "17", 0, 3) +
                           binary_packet(0x81, 0x10, {}, {}, {}, 0, 3) +
                           binary_packet(0x81, 0x10, "maxconns", {}, "4096", 0, 4) +
                           binary_packet(0x81, 0x10, "worker_id", {}, "5", 0, 4) +
                           binary_packet(0x81, 0x10, {}, {}, {}, 0, 4) +
                           binary_packet(0x81, 0x07, {}, {}, {}, 0, 5);
  EXPECT_EQ(escaped(o.output), escaped(want));
  EXPECT_TRUE(o.closing) << "Quit closes, and the Noop after it is never answered";
  EXPECT_EQ(o.completed, 5u);
  EXPECT_EQ(o.ids_issued, 0u);
}

TEST(BinarySession, QuitqClosesWithoutAReply) {
  const Outcome o = run_every_chunking(binary_request(0x17) + binary_request(0x0A));
  EXPECT_EQ(o.output, "");
  EXPECT_TRUE(o.closing);
}

// As memcached's proto_bin.c: items, slabs and sizes are groups (with what
// applies to a server that stores nothing); any other key, conns included
// (a text-only group there), is KEY_ENOENT "Not found" and the stream goes on.
TEST(BinarySession, StatsGroupsAsMemcachedAnswersThem) {
  const std::string in = binary_request(0x10, "Items", 1) + binary_request(0x10, "slabs", 2) +
                         binary_request(0x10, "SIZES", 3) + binary_request(0x10, "conns", 4) +
                         binary_request(0x10, "bogus", 5) + binary_request(0x0A, {}, 6);
  const Outcome o = run_every_chunking(in);
  const std::string want = binary_packet(0x81, 0x10, {}, {}, {}, 0, 1) +
                           binary_packet(0x81, 0x10, "active_slabs", {}, "0", 0, 2) +
                           binary_packet(0x81, 0x10, "total_malloced", {}, "0", 0, 2) +
                           binary_packet(0x81, 0x10, {}, {}, {}, 0, 2) +
                           binary_packet(0x81, 0x10, "sizes_status", {}, "disabled", 0, 3) +
                           binary_packet(0x81, 0x10, {}, {}, {}, 0, 3) +
                           binary_packet(0x81, 0x10, {}, {}, "Not found", 0x0001, 4) +
                           binary_packet(0x81, 0x10, {}, {}, "Not found", 0x0001, 5) +
                           binary_packet(0x81, 0x0A, {}, {}, {}, 0, 6);
  EXPECT_EQ(escaped(o.output), escaped(want));
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.completed, 6u);
}

// Stat "reset" zeroes the get counters (as `stats reset`) and answers the
// terminator alone; ids go on from where they were.
TEST(BinarySession, StatResetZeroesTheGetCounters) {
  const std::string in = binary_request(0x0C, "a", 1) + binary_request(0x10, "reset", 2) +
                         binary_request(0x00, "b", 3);
  const Outcome o = run_every_chunking(in);
  EXPECT_EQ(escaped(o.output), escaped(get_reply(0x0C, "a", rig_id(0), 1) +
                                       binary_packet(0x81, 0x10, {}, {}, {}, 0, 2) +
                                       get_reply(0x00, "", rig_id(1), 3)));
  EXPECT_EQ(o.ids_issued, 2u);
  EXPECT_EQ(o.cmd_get, 1u);
  EXPECT_EQ(o.get_hits, 1u);
}

// An unknown opcode is answered, its body skipped as it arrives, and the
// connection goes on: a Set of a 1000-byte value here.
TEST(BinarySession, UnknownOpcodeIsAnsweredAndItsBodySkipped) {
  const std::string set =
      binary_packet(0x80, 0x01, "k", std::string(8, '\x01'), std::string(1000, 'v'), 0, 42);
  const Outcome o = run_every_chunking(set + binary_request(0x0D, "after", 43));
  EXPECT_EQ(escaped(o.output),
            escaped(binary_packet(0x81, 0x01, {}, {}, "Unknown command", 0x0081, 42) +
                    get_reply(0x0D, "after", rig_id(0), 43)));
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.completed, 2u);
}

// The body of an unknown command is skipped as it arrives: a Set announcing
// the largest body accepted, streamed in reads of 16 KiB, never holds more
// than one read, and the Get after it is answered.
TEST(BinarySession, AnUnknownCommandsBodyIsNeverBuffered) {
  constexpr std::size_t kRead = 16 * config::kKiB;
  const std::size_t body = service::SessionLimits{}.max_data_block_bytes;
  std::string header = binary_request(0x01, {}, 5);
  header.replace(8, 4, big_endian(body, 4));
  SessionRig rig;
  rig.feed(header);
  EXPECT_EQ(escaped(rig.transcript),
            escaped(binary_packet(0x81, 0x01, {}, {}, "Unknown command", 0x0081, 5)));
  const std::string piece(kRead, 'v');
  for (std::size_t sent = 0; sent < body; sent += kRead) {
    rig.feed(std::string_view(piece).substr(0, std::min(kRead, body - sent)));
    ASSERT_LE(rig.core.buffered_bytes(), kRead + 1024) << "after " << sent << " body bytes";
  }
  rig.transcript.clear();
  rig.feed(binary_request(0x00, "after", 6));
  EXPECT_EQ(escaped(rig.transcript), escaped(get_reply(0x00, "", rig_id(0), 6)));
  EXPECT_FALSE(rig.core.closing());
}

struct Malformed {
  const char* name;
  std::string packet;
};

class BinaryMalformed : public ::testing::TestWithParam<Malformed> {};

// Lengths that do not fit the opcode, a key over 250 bytes, key + extras over
// the body, a body over the limit: "Invalid arguments", then the close. No id
// is drawn.
TEST_P(BinaryMalformed, IsInvalidArgumentsThenClose) {
  const Malformed& m = GetParam();
  const std::string in = m.packet + binary_request(0x0A);
  const Outcome o = run_every_chunking(in);
  const auto opcode = static_cast<std::uint8_t>(m.packet[1]);
  EXPECT_EQ(escaped(o.output),
            escaped(binary_packet(0x81, opcode, {}, {}, "Invalid arguments", 0x0004, 0)));
  EXPECT_TRUE(o.closing);
  EXPECT_EQ(o.ids_issued, 0u);
}

std::string with_lengths(std::uint8_t opcode, std::uint16_t key_length, std::uint8_t extras_length,
                         std::uint32_t body_length, std::string_view body = {}) {
  std::string p = binary_request(opcode);
  p.replace(2, 2, big_endian(key_length, 2));
  p[4] = static_cast<char>(extras_length);
  p.replace(8, 4, big_endian(body_length, 4));
  return p + std::string(body);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BinaryMalformed,
    ::testing::Values(Malformed{"get_without_key", binary_request(0x00)},
                      Malformed{"get_with_extras", binary_packet(0x80, 0x00, "k", "xxxx")},
                      Malformed{"get_key_over_250", binary_request(0x00, std::string(251, 'k'))},
                      Malformed{"getkq_with_value", binary_packet(0x80, 0x0D, "k", {}, "v")},
                      Malformed{"noop_with_key", binary_request(0x0A, "k")},
                      Malformed{"version_with_body", binary_packet(0x80, 0x0B, {}, {}, "v")},
                      Malformed{"stat_with_extras", binary_packet(0x80, 0x10, {}, "xxxx")},
                      Malformed{"stat_with_value", binary_packet(0x80, 0x10, "items", {}, "v")},
                      Malformed{"quit_with_body", binary_packet(0x80, 0x07, {}, {}, "v")},
                      Malformed{"quitq_with_key", binary_request(0x17, "k")},
                      // memcached checks the key length before the opcode: an unknown
                      // command with a key no key can be is refused too.
                      Malformed{"unknown_opcode_key_over_250",
                                binary_packet(0x80, 0x01, std::string(251, 'k'),
                                              std::string(8, '\0'), "v")},
                      Malformed{"key_and_extras_over_body", with_lengths(0x00, 10, 0, 5, "kkkkk")},
                      // go-katsubushi's remote crash: extras 255, key 65535, body 65790.
                      Malformed{"extras_255_key_65535", with_lengths(0x00, 65535, 255, 65790)},
                      Malformed{"body_over_limit", with_lengths(0x01, 0, 0, 2 * 1024 * 1024)}),
    [](const ::testing::TestParamInfo<Malformed>& param_info) {
      return std::string(param_info.param.name);
    });

TEST(BinarySession, AnotherMagicMidStreamCloses) {
  const Outcome o = run_every_chunking(binary_request(0x0A, {}, 1) + "get a\r\n");
  EXPECT_EQ(escaped(o.output), escaped(binary_packet(0x81, 0x0A, {}, {}, {}, 0, 1)));
  EXPECT_TRUE(o.closing);
}

// A generator that cannot issue: an error status with the reason, even for a
// quiet get, and the connection stays.
TEST(BinarySession, GeneratorFailureIsAnInternalErrorAndTheConnectionStays) {
  const std::string in = binary_request(0x0D, "a", 1) + binary_request(0x0A, {}, 2);
  const Outcome o = run_every_chunking(in, {}, [](SessionRig& rig) {
    rig.clock.set(id::kEpochUnixMs - 1);
  });
  EXPECT_EQ(escaped(o.output),
            escaped(binary_packet(0x81, 0x0D, {}, {}, "clock is before the id epoch", 0x0084, 1) +
                    binary_packet(0x81, 0x0A, {}, {}, {}, 0, 2)));
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.get_misses, 1u);
}

// A clock stepped back further than the generator waits for: once the last
// millisecond's sequence is used up (here by other connections), a get
// answers "clock is behind" (quiet or not) and the connection stays; once
// the clock is past the last id again, ids go on increasing.
TEST(BinarySession, ClockRewoundPastTheWaitIsAnErrorUntilItCatchesUp) {
  SessionRig rig;
  rig.feed(binary_request(0x00, "a", 1));
  rig.clock.advance(-2000);  // the generator waits for at most 1 s
  std::vector<std::uint64_t> elsewhere(4095);  // the rest of that millisecond
  ASSERT_FALSE(katsubushi::id::issue_waiting(rig.generator, elsewhere).error);
  rig.feed(binary_request(0x09, "b", 2) + binary_request(0x0A, {}, 3));
  rig.clock.advance(2001);
  rig.feed(binary_request(0x00, "c", 4));
  EXPECT_EQ(
      escaped(rig.transcript),
      escaped(get_reply(0x00, "", rig_id(0), 1) +
              binary_packet(0x81, 0x09, {}, {}, "clock is behind the last issued id", 0x0084, 2) +
              binary_packet(0x81, 0x0A, {}, {}, {}, 0, 3) +
              get_reply(0x00, "", id_at(kStartUnixMs + 1, 0), 4)));
  EXPECT_FALSE(rig.core.closing());
  EXPECT_EQ(rig.counters.cmd_get.load(), 3u);
  EXPECT_EQ(rig.counters.get_hits.load(), 2u);
  EXPECT_EQ(rig.counters.get_misses.load(), 1u);
}

// Past the output limit the session stops taking requests until the shell
// sends some; whatever the pace, every request is answered once, in order.
TEST(BinarySession, BackpressureKeepsEveryReplyInOrder) {
  RigOptions options;
  options.limits.max_output_bytes = 256;
  std::string in, want;
  for (std::uint32_t i = 0; i < 50; ++i) {
    in += binary_request(0x0C, "k", i);
    want += get_reply(0x0C, "k", rig_id(i), i);
  }
  SessionRig rig(options);
  rig.receive(in);
  rig.core.process();
  EXPECT_LT(rig.core.output().size(), want.size());
  EXPECT_FALSE(rig.core.wants_input());
  rig.feed_all("");
  EXPECT_EQ(rig.transcript, want);
}

}  // namespace
}  // namespace katsubushi::proto::test
