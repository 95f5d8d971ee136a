// Bounded work per process() step, on a manual clock: a get with many keys
// is answered a slice at a time, and a used-up millisecond surfaces as "not
// before T", never as a sleep in the core or the generator.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "id/issue_waiting.hpp"
#include "id/layout.hpp"
#include "testing/session_test_util.hpp"
#include "proto/text_session.hpp"

namespace katsubushi::proto::test {

using namespace katsubushi::testing;
namespace {

std::string get_line(std::size_t keys, std::string_view verb = "get") {
  std::string line(verb);
  for (std::size_t i = 0; i < keys; ++i) line += " k" + std::to_string(i);
  line += "\r\n";
  return line;
}

// The ids of a transcript's VALUE entries, in order, checking each entry's
// key is k0, k1, ... as asked.
std::vector<std::uint64_t> values_in(std::string_view transcript) {
  std::vector<std::uint64_t> ids;
  std::size_t pos = 0;
  while ((pos = transcript.find("VALUE ", pos)) != std::string_view::npos) {
    const std::size_t key_end = transcript.find(' ', pos + 6);
    EXPECT_EQ(transcript.substr(pos + 6, key_end - pos - 6), "k" + std::to_string(ids.size()));
    const std::size_t data = transcript.find("\r\n", pos) + 2;
    const std::size_t data_end = transcript.find("\r\n", data);
    ids.push_back(std::stoull(std::string(transcript.substr(data, data_end - data))));
    pos = data_end;
  }
  return ids;
}

void expect_strictly_increasing(const std::vector<std::uint64_t>& ids) {
  for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
}

// Uses up the rig clock's current millisecond.
void use_up_current_ms(SessionRig& rig) {
  std::vector<std::uint64_t> all(id::kSequencePerMs);
  ASSERT_FALSE(rig.generator.next_batch(all).error);
  ASSERT_EQ(rig.generator.next_batch(all).filled, 0u) << "the millisecond still had ids";
}

TEST(SessionSteps, TenThousandKeyGetIsOneSliceAStepWithTheRestPending) {
  SessionRig rig;
  rig.receive(get_line(10'000));
  rig.core.process();
  // One step: at most a step's ids, and no more output than its limit allows
  // (plus the one entry that crossed it).
  const auto issued = rig.generator.counters().ids_issued;
  EXPECT_GT(issued, 0u);
  EXPECT_LE(issued, proto::TextSession::kIdsPerStep);
  EXPECT_LE(rig.core.output().size(), config::kMaxOutputBytes + 64);
  EXPECT_EQ(rig.core.output().find("END"), std::string_view::npos) << "answered in one step";
  EXPECT_FALSE(rig.core.wants_input()) << "reads more while a get is in hand";
  EXPECT_EQ(rig.core.completed_requests(), 0u);
  EXPECT_EQ(rig.clock.sleeps(), 0);

  rig.feed_all({});
  EXPECT_EQ(rig.generator.counters().ids_issued, 10'000u);
  ASSERT_TRUE(rig.transcript.ends_with("\r\nEND\r\n"));
  const auto ids = values_in(rig.transcript);
  ASSERT_EQ(ids.size(), 10'000u);
  expect_strictly_increasing(ids);
  EXPECT_EQ(rig.core.completed_requests(), 1u);
  EXPECT_EQ(rig.counters.cmd_get.load(), 10'000u);
  EXPECT_EQ(rig.counters.get_hits.load(), 10'000u);
  // 10,000 ids need at least three milliseconds: the rig's clock moved only
  // because the session said when, and nothing slept.
  EXPECT_GE(rig.not_before_waits, 2u);
  EXPECT_EQ(rig.clock.sleeps(), 0);
  // Once answered, the connection holds no buffer.
  EXPECT_EQ(rig.core.buffered_bytes(), 0u);
}

TEST(SessionSteps, ManyKeysWithRoomForAllStillYieldAfterAStepOfIds) {
  // Output room for everything: the step's id budget alone stops process().
  RigOptions options;
  options.limits.max_output_bytes = std::size_t{64} * 1024 * 1024;
  SessionRig rig(options);
  rig.receive(get_line(6'000));
  rig.clock.set(rig.clock.now_unix_ms());
  rig.core.process();
  const auto issued = rig.generator.counters().ids_issued;
  EXPECT_LE(issued, proto::TextSession::kIdsPerStep);
  EXPECT_TRUE(rig.core.yielded() || rig.core.not_before_unix_ms() != 0);
  rig.feed_all({});
  EXPECT_EQ(values_in(rig.transcript).size(), 6'000u);
}

TEST(SessionSteps, UsedUpMillisecondIsNotBeforeTheNextOneAndNoSleep) {
  SessionRig rig;
  use_up_current_ms(rig);
  const std::uint64_t waits_before = rig.generator.counters().sequence_waits;
  const std::int64_t now = rig.clock.now_unix_ms();
  rig.receive("get a\r\n");
  rig.core.process();
  EXPECT_EQ(rig.core.not_before_unix_ms(), now + 1);
  EXPECT_TRUE(rig.core.output().empty());
  EXPECT_FALSE(rig.core.wants_input());
  EXPECT_EQ(rig.counters.cmd_get.load(), 0u) << "a waiting key is counted once answered";
  // Asked again before its time: still waiting, still nothing sent.
  rig.core.process();
  EXPECT_EQ(rig.core.not_before_unix_ms(), now + 1);
  EXPECT_TRUE(rig.core.output().empty());

  rig.clock.set(now + 1);
  rig.core.process();
  EXPECT_EQ(rig.core.not_before_unix_ms(), 0);
  EXPECT_EQ(std::string(rig.core.output()), value_reply("a", id_at(now + 1, 0)) + "END\r\n");
  EXPECT_EQ(rig.counters.cmd_get.load(), 1u);
  EXPECT_EQ(rig.clock.sleeps(), 0);
  // One "not before" a time process() was called before the millisecond.
  EXPECT_EQ(rig.generator.counters().sequence_waits, waits_before + 2);
}

TEST(SessionSteps, ClockALittleBehindIsNotBeforeTheMillisecondAfterTheLastId) {
  RigOptions options;
  options.generator.max_backward_wait_ms = 100;
  SessionRig rig(options);
  const std::int64_t start = rig.clock.now_unix_ms();
  use_up_current_ms(rig);
  rig.clock.set(start - 20);  // stepped back, within the limit
  const std::uint64_t waits_before = rig.generator.counters().clock_waits;
  rig.receive("get a\r\n");
  rig.core.process();
  EXPECT_EQ(rig.core.not_before_unix_ms(), start + 1);
  EXPECT_GT(rig.core.not_before_unix_ms(), rig.clock.now_unix_ms());
  EXPECT_EQ(rig.generator.counters().clock_waits, waits_before + 1);
  rig.feed_all({});
  EXPECT_EQ(rig.transcript, value_reply("a", id_at(start + 1, 0)) + "END\r\n");
  EXPECT_EQ(rig.clock.sleeps(), 0);
}

TEST(SessionSteps, MetaBinaryAndHttpRequestsWaitWholeAndAreAnsweredLater) {
  const std::string binary_get = [] {
    std::string p(24, '\0');
    p[0] = static_cast<char>(0x80);
    p[1] = 0x00;  // get
    p[3] = 1;     // key length
    p[11] = 1;    // body length
    return p + "k";
  }();
  struct Case {
    std::string name;
    session::Protocol protocol;
    std::string request;
  };
  for (const Case& c : {Case{"meta", session::Protocol::undecided, "mg k v\r\n"},
                        Case{"binary", session::Protocol::undecided, binary_get},
                        Case{"http", session::Protocol::http, "GET /ids?n=3 HTTP/1.1\r\nHost: h\r\n\r\n"}}) {
    SCOPED_TRACE(c.name);
    RigOptions options;
    options.protocol = c.protocol;
    SessionRig rig(options);
    use_up_current_ms(rig);
    const std::int64_t now = rig.clock.now_unix_ms();
    rig.receive(c.request);
    rig.core.process();
    EXPECT_EQ(rig.core.not_before_unix_ms(), now + 1);
    EXPECT_TRUE(rig.core.output().empty()) << escaped(rig.core.output());
    EXPECT_EQ(rig.core.completed_requests(), 0u);
    rig.clock.set(now + 1);
    rig.core.process();
    EXPECT_EQ(rig.core.not_before_unix_ms(), 0);
    EXPECT_EQ(rig.core.completed_requests(), 1u);
    const std::string id = std::to_string(id_at(now + 1, 0));
    EXPECT_NE(rig.core.output().find(id), std::string_view::npos) << escaped(rig.core.output());
    EXPECT_EQ(rig.clock.sleeps(), 0);
  }
}

TEST(SessionSteps, ErrorMidGetEndsWithServerErrorAfterTheValuesSent) {
  SessionRig rig;
  rig.receive(get_line(10'000));
  rig.core.process();
  const auto issued = rig.generator.counters().ids_issued;
  ASSERT_GT(issued, 0u);
  ASSERT_LT(issued, 10'000u);
  rig.generator.stop();  // issues nothing more
  rig.feed_all({});
  ASSERT_TRUE(rig.transcript.ends_with("\r\nSERVER_ERROR the daemon is stopping\r\n"))
      << escaped(rig.transcript.substr(rig.transcript.size() - 80));
  EXPECT_EQ(rig.transcript.find("END\r\n"), std::string::npos);
  EXPECT_EQ(values_in(rig.transcript).size(), issued);
  EXPECT_EQ(rig.counters.cmd_get.load(), 10'000u);
  EXPECT_EQ(rig.counters.get_hits.load(), issued);
  EXPECT_EQ(rig.counters.get_misses.load(), 10'000u - issued);
  // The line is consumed: the connection goes on.
  rig.feed("version\r\n");
  EXPECT_TRUE(rig.transcript.ends_with("VERSION " + std::string(kVersion) + "\r\n"));
}

TEST(SessionSteps, TooManyKeysIsAClientErrorAndConsumesNoId) {
  RigOptions options;
  options.limits.max_keys_per_get = 5;
  SessionRig rig(options);
  rig.feed(get_line(6));
  EXPECT_EQ(rig.transcript, "CLIENT_ERROR too many keys in one get\r\n");
  EXPECT_EQ(rig.generator.counters().ids_issued, 0u);
  rig.transcript.clear();
  rig.feed(get_line(5, "gets"));
  EXPECT_EQ(values_in(rig.transcript).size(), 5u);
  EXPECT_TRUE(rig.transcript.ends_with("END\r\n"));
}

TEST(SessionSteps, UnsentOutputStaysNearItsLimitThroughAHugeGet) {
  RigOptions options;
  options.limits.max_line_bytes = 1 << 20;
  options.limits.max_keys_per_get = 1 << 20;
  SessionRig rig(options);
  // 250-byte keys: the entries the output limit is measured against.
  std::string line = "get";
  const std::string key(249, 'x');
  for (int i = 0; i < 3000; ++i) line += " " + key + static_cast<char>('a' + i % 26);
  line += "\r\n";
  rig.receive(line);
  std::size_t most = 0;
  std::size_t values = 0;
  for (int step = 0; step < 100'000 && rig.core.completed_requests() == 0; ++step) {
    rig.core.process();
    most = std::max(most, rig.core.output().size());
    rig.wait_as_the_shell();
    const std::string_view out = rig.core.output();
    for (std::size_t p = 0; (p = out.find("VALUE ", p)) != std::string_view::npos; ++p) ++values;
    rig.read(out.size());
  }
  EXPECT_EQ(values, 3000u);
  // The limit, plus one entry (the one that crossed it) at most.
  EXPECT_LE(most, config::kMaxOutputBytes + 320);
  EXPECT_EQ(rig.core.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace katsubushi::proto::test
