// session::SessionCore beyond single requests: pipelines, backpressure, request
// counting, memory bounds, protocol sniffing and the zero-copy input path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "id/issue_waiting.hpp"
#include "testing/session_test_util.hpp"

namespace katsubushi::proto::test {

using namespace katsubushi::testing;
namespace {

const std::string kVersionReply = "VERSION " + std::string(kVersion) + "\r\n";
constexpr std::size_t kChunk = std::size_t{16} * 1024;
constexpr std::size_t kTenMiB = std::size_t{10} * 1024 * 1024;

TEST(SessionPipelineTest, MixedCommandsInOneReceiveAnswerInOrder) {
  const std::string input =
      "get a\r\n"
      "gets b c\r\n"
      "version\r\n"
      "set k 0 0 5\r\nhello\r\n"
      "stats settings\r\n"
      "bogus\r\n"
      "\r\n"
      "get " + std::string(251, 'x') + "\r\n"
      "verbosity 1 noreply\r\n"
      "verbosity 2\r\n"
      "add k 0 0 1 noreply\r\nz\r\n"
      "stats\r\n"
      "get d\n"
      "quit\r\n"
      "get never\r\n";
  const std::string expected =
      value_reply("a", rig_id(0)) + "END\r\n" + value_reply("b", rig_id(1), true) +
      value_reply("c", rig_id(2), true) + "END\r\n" + kVersionReply + "ERROR\r\n" +
      "STAT maxconns 4096\r\nSTAT worker_id 5\r\nEND\r\n" + "ERROR\r\n" + "ERROR\r\n" +
      "CLIENT_ERROR bad command line format\r\n" + "OK\r\n" +
      "STAT pid 4242\r\nSTAT uptime 17\r\nEND\r\n" + value_reply("d", rig_id(3)) + "END\r\n";

  SessionRig rig;
  rig.core.receive(input);
  rig.core.process();
  EXPECT_EQ(escaped(rig.core.output()), escaped(expected));
  EXPECT_TRUE(rig.core.closing());
  EXPECT_EQ(rig.core.completed_requests(), 14u);  // the empty line counts too

  const Outcome o = run_every_chunking(input);
  EXPECT_EQ(escaped(o.output), escaped(expected));
  EXPECT_EQ(o.completed, 14u);
  EXPECT_EQ(o.ids_issued, 4u);
}

TEST(SessionPipelineTest, ThousandGetsInOneReceive) {
  std::string input;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "k" + std::to_string(i);
    input += "get " + key + "\r\n";
    expected += value_reply(key, rig_id(static_cast<std::uint64_t>(i))) + "END\r\n";
  }
  SessionRig rig;
  rig.feed(input);
  EXPECT_EQ(rig.transcript, expected);
  EXPECT_EQ(rig.core.completed_requests(), 1000u);
}

TEST(SessionPipelineTest, BackpressureStopsAndResumes) {
  RigOptions options;
  options.limits.max_output_bytes = 100;
  SessionRig rig(options);
  constexpr int kRequests = 40;
  std::string input;
  for (int i = 0; i < kRequests; ++i) input += "version\r\n";

  rig.core.receive(input);
  rig.core.process();
  const std::size_t first = rig.core.output().size();
  EXPECT_GE(first, options.limits.max_output_bytes);
  EXPECT_LT(first, options.limits.max_output_bytes + kVersionReply.size());
  EXPECT_FALSE(rig.core.wants_input());
  EXPECT_LT(rig.core.completed_requests(), static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(rig.core.completed_requests() * kVersionReply.size(), first);

  // Processing again without writing anything answers nothing more.
  rig.core.process();
  EXPECT_EQ(rig.core.output().size(), first);

  std::string all;
  int rounds = 0;
  while (!rig.core.output().empty()) {
    all.append(rig.core.output());
    rig.core.consume_output(rig.core.output().size());
    EXPECT_TRUE(rig.core.wants_input());
    rig.core.process();
    ASSERT_LT(++rounds, kRequests);
  }
  EXPECT_GT(rounds, 1);
  EXPECT_EQ(rig.core.completed_requests(), static_cast<std::uint64_t>(kRequests));
  std::string expected;
  for (int i = 0; i < kRequests; ++i) expected += kVersionReply;
  EXPECT_EQ(all, expected);
}

TEST(SessionPipelineTest, PartialConsumeKeepsTheRestOfTheOutput) {
  RigOptions options;
  options.limits.max_output_bytes = 30;
  SessionRig rig(options);
  rig.core.receive("version\r\nversion\r\nversion\r\n");
  rig.core.process();
  ASSERT_EQ(rig.core.output(), kVersionReply + kVersionReply);
  rig.core.consume_output(5);
  EXPECT_EQ(rig.core.output(), kVersionReply.substr(5) + kVersionReply);
  EXPECT_FALSE(rig.core.wants_input());  // 35 bytes still owed
  rig.core.consume_output(kVersionReply.size());
  EXPECT_TRUE(rig.core.wants_input());
  rig.core.process();
  EXPECT_EQ(rig.core.output(), kVersionReply.substr(5) + kVersionReply);
}

// completed_requests() restarts the shell's idle timer: every whole line
// counts, an empty or unknown one included, and no partial one does.
TEST(SessionPipelineTest, CompletedRequestsCountsWholeLines) {
  SessionRig rig;
  EXPECT_EQ(rig.core.completed_requests(), 0u);
  rig.feed("\r\n\n");
  EXPECT_EQ(rig.core.completed_requests(), 2u);  // empty lines are requests (ERROR)
  EXPECT_EQ(rig.transcript, "ERROR\r\nERROR\r\n");
  rig.feed(" \t\r\n");
  EXPECT_EQ(rig.core.completed_requests(), 3u);  // so is a line of separators
  rig.feed("get a\r\n");
  EXPECT_EQ(rig.core.completed_requests(), 4u);
  rig.feed("get b");
  EXPECT_EQ(rig.core.completed_requests(), 4u);  // no newline yet
  rig.feed("\r");
  EXPECT_EQ(rig.core.completed_requests(), 4u);
  rig.feed("\n");
  EXPECT_EQ(rig.core.completed_requests(), 5u);

  // A storage command counts once its data block has been swallowed.
  rig.transcript.clear();
  rig.feed("set k 0 0 4\r\n");
  EXPECT_EQ(rig.core.completed_requests(), 5u);
  rig.feed("da");
  rig.feed("ta\r");
  EXPECT_EQ(rig.core.completed_requests(), 5u);
  EXPECT_EQ(rig.transcript, "");
  rig.feed("\n");
  EXPECT_EQ(rig.core.completed_requests(), 6u);
  EXPECT_EQ(rig.transcript, "ERROR\r\n");

  rig.feed("bogus\r\n");           // unknown commands are requests
  rig.feed("get x\x01\r\n");       // so are malformed ones
  rig.feed("verbosity 1 noreply\r\n");
  rig.feed("set k 0 0 1 noreply\r\nz\r\n");
  rig.feed("mg a q\r\nmn\r\nms k 1\r\nz\r\nmg a zz\r\n");
  EXPECT_EQ(rig.core.completed_requests(), 14u);
}

TEST(SessionPipelineTest, ProtocolCountersCountKeys) {
  SessionRig rig;
  rig.feed("get a b c\r\ngets d\r\nget " + std::string(251, 'k') + "\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 4u);
  EXPECT_EQ(rig.counters.get_hits.load(), 4u);
  EXPECT_EQ(rig.counters.get_misses.load(), 0u);

  rig.clock.set(id::kEpochUnixMs - 5);
  rig.feed("get e f\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 6u);
  EXPECT_EQ(rig.counters.get_hits.load(), 4u);
  EXPECT_EQ(rig.counters.get_misses.load(), 2u);
  EXPECT_FALSE(rig.core.closing());
}

TEST(SessionPipelineTest, GeneratorRecoversAfterServerError) {
  RigOptions options;
  options.generator.max_backward_wait_ms = 10;
  SessionRig rig(options);
  std::vector<std::uint64_t> used(id::kSequencePerMs);
  ASSERT_FALSE(katsubushi::id::issue_waiting(rig.generator, used).error);
  rig.clock.set(kStartUnixMs - 500);
  rig.feed("get a\r\n");
  EXPECT_EQ(rig.transcript, "SERVER_ERROR clock is behind the last issued id\r\n");
  EXPECT_FALSE(rig.core.closing());
  EXPECT_TRUE(rig.core.wants_input());

  rig.transcript.clear();
  rig.clock.set(kStartUnixMs + 1);
  rig.feed("get a\r\n");
  EXPECT_EQ(rig.transcript, value_reply("a", id_at(kStartUnixMs + 1, 0)) + "END\r\n");
}

TEST(SessionPipelineTest, HttpAnswerIsWellFormed) {
  SessionRig rig;
  // curl against the memcached port: a real HTTP answer, and with
  // "Connection: close" the connection then closes.
  rig.feed("GET /id HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(rig.core.protocol(), session::Protocol::http);
  EXPECT_TRUE(rig.core.closing());
  EXPECT_FALSE(rig.core.wants_input());
  const std::string& reply = rig.transcript;
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 ", 0), 0u) << reply;
  const auto header_end = reply.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  const std::string headers = reply.substr(0, header_end + 2);
  const std::string body = reply.substr(header_end + 4);
  const std::string field = "\r\nContent-Length: ";
  const auto at = headers.find(field);
  ASSERT_NE(at, std::string::npos) << headers;
  const auto value_end = headers.find("\r\n", at + field.size());
  const std::string length = headers.substr(at + field.size(), value_end - at - field.size());
  EXPECT_EQ(length, std::to_string(body.size()));
  EXPECT_NE(headers.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(body, std::to_string(rig_id(0)));
  EXPECT_EQ(rig.generator.counters().ids_issued, 1u);
}

TEST(SessionPipelineTest, ProtocolIsDecidedByTheFirstLine) {
  SessionRig text;
  EXPECT_EQ(text.core.protocol(), session::Protocol::undecided);
  text.feed("GET /x");
  EXPECT_EQ(text.core.protocol(), session::Protocol::undecided);  // could still be HTTP
  text.feed(" y\r\n");
  EXPECT_EQ(text.core.protocol(), session::Protocol::text);       // "GET /x y" is a text get
  EXPECT_EQ(text.transcript,
            value_reply("/x", rig_id(0)) + value_reply("y", rig_id(1)) + "END\r\n");

  SessionRig binary;
  binary.feed(std::string(1, static_cast<char>(0x80)));
  EXPECT_EQ(binary.core.protocol(), session::Protocol::binary);
  EXPECT_FALSE(binary.core.closing());  // half a header: waits for the rest
  EXPECT_EQ(binary.transcript, "");
}

TEST(SessionPipelineTest, ZeroCopyInputPath) {
  SessionRig rig;
  const std::string request = "get a\r\n";
  auto space = rig.core.prepare(100);
  ASSERT_EQ(space.size(), 100u);
  std::memcpy(space.data(), request.data(), request.size());
  rig.core.commit(request.size());  // fewer bytes than prepared
  rig.core.process();
  rig.drain();
  space = rig.core.prepare(8);
  std::memcpy(space.data(), "version\n", 8);
  rig.core.commit(8);
  rig.core.process();
  rig.drain();
  EXPECT_EQ(rig.transcript, value_reply("a", rig_id(0)) + "END\r\n" + kVersionReply);
}

TEST(SessionPipelineTest, QuitIgnoresLaterInputWithoutBufferingIt) {
  SessionRig rig;
  rig.feed("version\r\nquit\r\n");
  EXPECT_EQ(rig.transcript, kVersionReply);
  ASSERT_TRUE(rig.core.closing());
  EXPECT_FALSE(rig.core.wants_input());

  std::string gets;
  while (gets.size() < kChunk) gets += "get a\r\n";
  std::size_t most = 0;
  for (int i = 0; i < 64; ++i) {  // 1 MiB from a client that keeps sending
    rig.feed(gets);
    most = std::max(most, rig.core.buffered_bytes());
  }
  EXPECT_EQ(rig.transcript, kVersionReply);
  EXPECT_EQ(rig.generator.counters().ids_issued, 0u);
  EXPECT_EQ(rig.core.completed_requests(), 2u);
  EXPECT_LE(most, 4 * kChunk);
}

// A 10 MB line in 16 KiB reads: the session refuses it once it is over the
// limit, and never holds much more than the limit however much arrives.
TEST(SessionPipelineTest, HugeLineKeepsMemoryBounded) {
  SessionRig rig;
  const service::SessionLimits limits;
  const std::string chunk(kChunk, 'k');
  std::size_t most = 0;
  rig.feed("get ");
  for (std::size_t sent = 0; sent < kTenMiB; sent += chunk.size()) {
    rig.feed(chunk);
    most = std::max(most, rig.core.buffered_bytes());
  }
  rig.feed("\r\n");
  EXPECT_EQ(rig.transcript, "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(rig.core.closing());
  EXPECT_LE(most, limits.max_line_bytes + 2 * kChunk);
  EXPECT_EQ(rig.generator.counters().ids_issued, 0u);
}

TEST(SessionPipelineTest, HugeLineAfterACommandKeepsMemoryBounded) {
  SessionRig rig;
  const service::SessionLimits limits;
  const std::string chunk(kChunk, ' ');
  std::size_t most = 0;
  rig.feed("version\r\nget");
  for (std::size_t sent = 0; sent < kTenMiB && rig.core.wants_input();
       sent += chunk.size()) {
    rig.feed(chunk);
    most = std::max(most, rig.core.buffered_bytes());
  }
  EXPECT_EQ(rig.transcript, kVersionReply + "CLIENT_ERROR line too long\r\n");
  EXPECT_LE(most, limits.max_line_bytes + 2 * kChunk);
}

TEST(SessionPipelineTest, LargeDataBlockIsSkippedWithoutBufferingIt) {
  SessionRig rig;
  const service::SessionLimits limits;
  const std::size_t block = limits.max_data_block_bytes;
  rig.feed("set k 0 0 " + std::to_string(block) + "\r\n");
  const std::string chunk(kChunk, 'd');
  std::size_t most = 0;
  for (std::size_t sent = 0; sent < block; sent += chunk.size()) {
    rig.feed(std::string_view(chunk).substr(0, std::min(chunk.size(), block - sent)));
    most = std::max(most, rig.core.buffered_bytes());
  }
  EXPECT_EQ(rig.transcript, "");
  rig.feed("\r\nversion\r\n");
  EXPECT_EQ(rig.transcript, "ERROR\r\n" + kVersionReply);
  EXPECT_FALSE(rig.core.closing());
  EXPECT_LE(most, 2 * kChunk);
}

// `stats reset` zeroes the get counters (memcached's); ids are untouched.
TEST(SessionPipelineTest, StatsResetZeroesCountersNotIds) {
  SessionRig rig;
  rig.feed("get a b c\r\nmg d v\r\n");
  ASSERT_EQ(rig.counters.cmd_get.load(), 4u);
  rig.clock.set(id::kEpochUnixMs - 5);
  rig.feed("get e\r\n");
  ASSERT_EQ(rig.counters.get_misses.load(), 1u);
  rig.clock.set(kStartUnixMs);
  rig.transcript.clear();
  rig.feed("stats reset\r\n");
  EXPECT_EQ(rig.transcript, "RESET\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 0u);
  EXPECT_EQ(rig.counters.get_hits.load(), 0u);
  EXPECT_EQ(rig.counters.get_misses.load(), 0u);
  EXPECT_EQ(rig.generator.counters().ids_issued, 4u);

  rig.transcript.clear();
  rig.feed("get f\r\n");
  EXPECT_EQ(rig.transcript, value_reply("f", rig_id(4)) + "END\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 1u);
  EXPECT_EQ(rig.counters.get_hits.load(), 1u);
}

// A get counted in cmd_get but not yet in get_hits when the reset lands (as
// on another connection) keeps cmd_get = get_hits + get_misses once it ends.
TEST(SessionPipelineTest, StatsResetKeepsTheCounterSumInFlight) {
  service::ProtocolCounters counters;
  counters.cmd_get = 10;
  counters.get_hits = 7;  // 3 keys in flight
  counters.reset();
  EXPECT_EQ(counters.cmd_get.load(), 3u);
  counters.get_hits += 3;
  EXPECT_EQ(counters.cmd_get.load(), counters.get_hits.load() + counters.get_misses.load());
}

// end_of_input() under backpressure: the unterminated last line waits for
// the output to drain like any other request, and the session is closing
// only once every request has been answered.
TEST(SessionPipelineTest, EndOfInputWaitsForBackpressure) {
  RigOptions options;
  options.limits.max_output_bytes = 64;
  SessionRig rig(options);
  std::string input;
  for (int i = 0; i < 20; ++i) input += "version\r\n";
  input += "get last";
  rig.core.receive(input);
  rig.core.process();
  rig.core.end_of_input();
  rig.core.process();
  EXPECT_FALSE(rig.core.closing());
  int rounds = 0;
  while (!rig.core.closing() || !rig.core.output().empty()) {
    rig.drain();
    rig.core.process();
    ASSERT_LT(++rounds, 100);
  }
  std::string expected;
  for (int i = 0; i < 20; ++i) expected += kVersionReply;
  expected += value_reply("last", rig_id(0)) + "END\r\n";
  EXPECT_EQ(rig.transcript, expected);
  EXPECT_EQ(rig.core.completed_requests(), 21u);
  EXPECT_FALSE(rig.core.wants_input());
}

// Only the text session takes an unterminated line at end of input: a binary
// or HTTP session is left as it was.
TEST(SessionPipelineTest, EndOfInputLeavesOtherProtocolsAlone) {
  SessionRig binary;
  binary.feed(std::string(1, static_cast<char>(0x80)) + "get a");
  binary.core.end_of_input();
  binary.feed_all({});
  EXPECT_EQ(binary.core.protocol(), session::Protocol::binary);
  EXPECT_EQ(binary.transcript, "");

  SessionRig idle;
  idle.core.end_of_input();
  idle.feed_all({});
  EXPECT_EQ(idle.core.protocol(), session::Protocol::undecided);
  EXPECT_EQ(idle.transcript, "");
  EXPECT_EQ(idle.generator.counters().ids_issued, 0u);

  // A complete HTTP request line that process() has not seen yet is still HTTP.
  SessionRig http;
  http.core.receive("GET / HTTP/1.1\r\n\r\n");
  http.core.end_of_input();
  http.feed_all({});
  EXPECT_EQ(http.core.protocol(), session::Protocol::http);
  EXPECT_EQ(http.transcript.rfind("HTTP/1.1 ", 0), 0u);
}

// A get line of megabytes arrives a read at a time; its keys are scanned as
// they come (so its end costs no scan of them all at once). Whatever the
// pieces, the replies are those of the line given whole: every key
// answered, or the whole get refused for one bad key, wherever it is.
TEST(SessionPipelineTest, LongGetLinesGetTheSameRepliesWhateverThePieces) {
  RigOptions options;
  options.limits.max_line_bytes = 4 * 1024 * 1024;
  options.limits.max_keys_per_get = 1'000'000;
  const auto long_get = [](std::string_view name, std::size_t keys, std::size_t bad_at,
                           std::string_view bad) {
    std::string line(name);
    for (std::size_t i = 0; i < keys; ++i) {
      line += ' ';
      line += i == bad_at ? std::string(bad) : "k" + std::to_string(i);
    }
    return line + "\r\n";
  };
  const std::size_t kKeys = 60'000;  // about 420 kB: scanned ahead
  struct Case {
    std::string line;
    bool bad;
  };
  const std::vector<Case> cases = {
      {long_get("get", kKeys, kKeys, ""), false},
      {long_get("GETS", kKeys, kKeys, ""), false},
      {long_get("get", kKeys, 3, std::string(251, 'x')), true},
      {long_get("get", kKeys, kKeys - 1, "bad\x7fkey"), true},
      {long_get("gets", kKeys, kKeys / 2, std::string(251, 'y')), true},
      {"   " + long_get("get", kKeys, kKeys, ""), false},
  };
  for (const Case& c : cases) {
    // A short get first: until its first line is whole, a connection's
    // protocol is not known (an HTTP request line also starts "GET ").
    SessionRig whole(options);
    whole.feed_all("get first\r\n" + c.line + "get after\r\n");
    for (const std::size_t piece : {std::size_t{1000}, std::size_t{65'536}, std::size_t{100'003}}) {
      SessionRig pieced(options);
      pieced.feed_all("get first\r\n");
      for (std::size_t at = 0; at < c.line.size(); at += piece) {
        pieced.feed_all(std::string_view(c.line).substr(at, piece));
      }
      pieced.feed_all("get after\r\n");
      ASSERT_EQ(pieced.transcript.size(), whole.transcript.size()) << piece;
      // The same replies; ids differ only if the clocks did (they do not).
      EXPECT_TRUE(pieced.transcript == whole.transcript) << piece;
    }
    const std::size_t first_reply = whole.transcript.find("END\r\n") + 5;
    if (c.bad) {
      EXPECT_EQ(whole.transcript.substr(first_reply, 38), "CLIENT_ERROR bad command line format\r\n");
    } else {
      EXPECT_EQ(static_cast<std::size_t>(std::count(whole.transcript.begin(),
                                                    whole.transcript.end(), '\n')),
                2 * (kKeys + 1) + 2 + 3);
    }
  }
}

}  // namespace
}  // namespace katsubushi::proto::test
