// The failover logic over fake servers on a simulated clock: order, tries
// per server, backoff (skipped while it runs, asked again after), all
// backing off, deadlines, and the id check making a server count as failed.
#include "client/failover.hpp"

#include <gtest/gtest.h>

#include "client/fake_server_test_support.hpp"

namespace katsubushi::client {
namespace {

using testing::FakeClock;
using testing::FakeFleet;
using testing::FakeServer;
using Mode = FakeServer::Mode;
using namespace std::chrono_literals;

FailoverOptions options() {
  return {.tries_per_server = 2,
          .try_timeout = 100ms,
          .max_future_skew = 5000ms,
          .backoff = {.initial = 50ms, .max = 800ms, .jitter = 0.2}};
}

class FailoverTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  FakeFleet fleet_{clock_, 3};
  FakeServer& s0 = *fleet_.servers[0];
  FakeServer& s1 = *fleet_.servers[1];
  FakeServer& s2 = *fleet_.servers[2];
  Failover failover_{std::move(fleet_.transports), options(), clock_};

  BatchOutcome fetch(std::size_t n = 1) { return failover_.fetch(n, clock_.now() + 1000ms); }
  static std::uint32_t worker(const BatchOutcome& o) { return id::decode(o.ids.at(0)).worker_id; }
};

TEST_F(FailoverTest, AsksTheFirstServerWhileItAnswers) {
  for (int i = 0; i < 5; ++i) {
    const auto got = fetch(3);
    ASSERT_EQ(got.ids.size(), 3u);
    EXPECT_EQ(worker(got), 1u);
  }
  EXPECT_EQ(s0.calls(), 5);
  EXPECT_EQ(s1.calls(), 0);
}

TEST_F(FailoverTest, TriesAFailedServerTwiceThenTheNext) {
  s0.set_mode(Mode::refuse);
  const auto got = fetch();
  ASSERT_EQ(got.ids.size(), 1u);
  EXPECT_EQ(worker(got), 2u);
  EXPECT_EQ(s0.calls(), 2);  // go-katsubushi's two tries
  EXPECT_EQ(s0.drops(), 2);  // its kept connections closed after each failure
  EXPECT_EQ(got.failed_tries, 2u);
  EXPECT_TRUE(failover_.backing_off(0));
  EXPECT_FALSE(failover_.backing_off(1));
}

TEST_F(FailoverTest, SkipsAServerWhileItBacksOffAndAsksItAgainAfter) {
  s0.set_mode(Mode::refuse);
  ASSERT_EQ(fetch().ids.size(), 1u);
  ASSERT_EQ(s0.calls(), 2);
  // Within the backoff (at least 40 ms: 50 ms less a fifth), s0 is not asked.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(worker(fetch()), 2u);
  EXPECT_EQ(s0.calls(), 2);
  // Once it ends (at most 60 ms), s0 is asked again, and serves again.
  s0.set_mode(Mode::healthy);
  clock_.advance(100ms);
  EXPECT_EQ(worker(fetch()), 1u);
  EXPECT_EQ(s0.calls(), 3);
  EXPECT_FALSE(failover_.backing_off(0));
}

TEST_F(FailoverTest, BackoffDoublesWhileAServerKeepsFailingUpToTheCap) {
  s0.set_mode(Mode::refuse);
  std::vector<int> asked_after;  // ms from one ask of s0 to the next
  auto last_calls = 0;
  auto last_time = clock_.now();
  for (int step = 0; step < 400 && asked_after.size() < 7; ++step) {
    fetch();
    if (s0.calls() != last_calls) {
      if (last_calls != 0) {
        asked_after.push_back(static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - last_time)
                .count()));
      }
      last_calls = s0.calls();
      last_time = clock_.now();
    }
    clock_.advance(10ms);
  }
  ASSERT_EQ(asked_after.size(), 7u);
  // 50, 100, 200, 400, 800, 800, 800 ms, each within a fifth either way
  // (plus the 10 ms steps and the fake latency).
  const int want[] = {50, 100, 200, 400, 800, 800, 800};
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_GE(asked_after[i], want[i] * 8 / 10) << i;
    EXPECT_LE(asked_after[i], want[i] * 12 / 10 + 20) << i;
  }
}

TEST_F(FailoverTest, WhenEveryServerBacksOffTheOneEndingFirstIsAsked) {
  s0.set_mode(Mode::refuse);
  s1.set_mode(Mode::refuse);
  s2.set_mode(Mode::refuse);
  EXPECT_TRUE(failover_.fetch(1, clock_.now() + 10ms).ids.empty());  // a pass, then the deadline
  ASSERT_TRUE(failover_.backing_off(0) && failover_.backing_off(1) && failover_.backing_off(2));
  // s1 comes back while all still back off: the call does not fail at once,
  // it waits for the first backoff to end and finds s1.
  s1.set_mode(Mode::healthy);
  const auto got = fetch();
  ASSERT_EQ(got.ids.size(), 1u);
  EXPECT_EQ(worker(got), 2u);
}

TEST_F(FailoverTest, AServerBackingOffIsAskedWhenTheOthersFail) {
  s0.set_mode(Mode::refuse);
  ASSERT_EQ(worker(fetch()), 2u);  // s0 backs off now
  s0.set_mode(Mode::healthy);      // restarted, but its backoff runs on
  s1.set_mode(Mode::refuse);
  s2.set_mode(Mode::refuse);
  const auto got = fetch();
  ASSERT_EQ(got.ids.size(), 1u);
  EXPECT_EQ(worker(got), 1u);
  EXPECT_EQ(s1.calls(), 3);  // 1 healthy call, then 2 failed tries
  EXPECT_EQ(s2.calls(), 2);
}

TEST_F(FailoverTest, NoServerWithinTheDeadlineNamesEachServersReason) {
  s0.set_mode(Mode::refuse);
  s1.set_mode(Mode::bad_ids);
  s2.set_mode(Mode::future_ids);
  const auto start = clock_.now();
  const auto got = failover_.fetch(1, start + 500ms);
  EXPECT_TRUE(got.ids.empty());
  EXPECT_GE(clock_.now(), start + 500ms);  // tried until the deadline
  EXPECT_LT(clock_.now(), start + 600ms);  // not much past it
  ASSERT_EQ(got.failures.size(), 3u);
  EXPECT_EQ(got.failures[0].server, "s0");
  EXPECT_NE(got.failures[0].reason.find("refused (fake)"), std::string::npos);
  EXPECT_NE(got.failures[1].reason.find("id 0"), std::string::npos);
  EXPECT_NE(got.failures[2].reason.find("in the future"), std::string::npos);
  EXPECT_GT(got.refused_ids, 0u);
}

TEST_F(FailoverTest, ShortAndBadRepliesMakeTheServerCountAsFailed) {
  s0.set_mode(Mode::short_reply);
  s1.set_mode(Mode::bad_ids);
  const auto got = fetch(5);
  ASSERT_EQ(got.ids.size(), 5u);
  EXPECT_EQ(worker(got), 3u);
  EXPECT_TRUE(failover_.backing_off(0));
  EXPECT_TRUE(failover_.backing_off(1));
}

TEST_F(FailoverTest, ASlowPassEndsAtTheDeadline) {
  s0.set_latency(400ms);  // each try of s0 takes 400 ms and still answers
  s0.set_mode(Mode::refuse);
  const auto start = clock_.now();
  const auto got = failover_.fetch(1, start + 300ms);
  EXPECT_TRUE(got.ids.empty());
  EXPECT_EQ(s0.calls(), 1);  // the second try would start past the deadline
  EXPECT_EQ(got.failures[1].reason, "not asked before the deadline");
}

}  // namespace
}  // namespace katsubushi::client
