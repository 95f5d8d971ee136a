// The lease keeper against real redis-server processes (single and a 3-node
// cluster) and FakeRedis servers, all started by the tests on free loopback
// ports. Expiries are short (3 s) so losses happen within a test; the
// system clock is the lease clock.
#include "lease/lease_keeper.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "id/clock.hpp"
#include "id/layout.hpp"
#include "lease/raus_keys.hpp"
#include "lease/redis_client.hpp"
#include "lease/redis_url.hpp"
#include "testing/lease_recorder.hpp"
#include "testing/redis_server.hpp"

namespace katsubushi::lease {
namespace {

using namespace std::chrono_literals;
using testing::FakeRedis;
using testing::RedisCluster;
using testing::RedisServer;
using testing::Recorder;
using testing::eventually;

constexpr std::int64_t kExpiryMs = 3000;
constexpr std::int64_t kMarginMs = kExpiryMs / 4;
// Only a hang goes past this.
constexpr auto kNoHang = 3s;

LeaseOptions options(const std::string& url, std::uint32_t lo = 1, std::uint32_t hi = 1023) {
  LeaseOptions o;
  o.url = parse_redis_url(url);
  o.min_worker_id = lo;
  o.max_worker_id = hi;
  o.expiry = std::chrono::seconds(kExpiryMs / 1000);
  o.call_timeout = 300ms;
  o.learn_time = 0ms;  // the tests of learning set it
  o.max_backoff = 500ms;
  return o;
}

// Publishes raus payloads on a channel until it goes.
class Announcer {
 public:
  Announcer(RedisServer& redis, std::string channel, std::vector<std::string> payloads)
      : thread_([&redis, channel = std::move(channel), payloads = std::move(payloads), this] {
          while (!stop_) {
            for (const auto& p : payloads) redis.cli({"PUBLISH", channel, p});
            std::this_thread::sleep_for(100ms);
          }
        }) {}
  ~Announcer() {
    stop_ = true;
    thread_.join();
  }
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::redis_available()) GTEST_SKIP() << "redis-server is not installed";
  }
  id::SystemClock clock;
};

TEST_F(LeaseTest, OptionsThatCannotWorkAreRefusedByName) {
  Recorder rec(clock);
  const auto refused = [&](LeaseOptions o, const std::string& says) {
    try {
      LeaseKeeper keeper(std::move(o), clock, rec);
      ADD_FAILURE() << "accepted; want: " << says;
    } catch (const LeaseError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  const std::string url = "redis://127.0.0.1:1";
  refused(options(url, 0, 5), "not 0..5");
  refused(options(url, 6, 5), "not 6..5");
  refused(options(url, 1, 1024), "not 1..1024");
  LeaseOptions slow_calls = options(url);
  slow_calls.call_timeout = 400ms;
  refused(slow_calls, "call timeout (400 ms) must be at most half the margin (750 ms)");
  LeaseOptions slow_refresh = options(url);
  slow_refresh.refresh_interval = 2250ms;
  refused(slow_refresh, "refresh interval (2250 ms) must be under expiry - margin");
  LeaseOptions wide_margin = options(url);
  wide_margin.margin = 3s;
  refused(wide_margin, "margin (3000 ms) must be under the expiry");
  LeaseOptions no_skew = options(url);
  no_skew.max_clock_skew = 0ms;
  refused(no_skew, "largest clock skew must be at least 1 ms");
  LeaseOptions negative_replicas = options(url);
  negative_replicas.wait_replicas = -1;
  refused(negative_replicas, "replicas to wait for cannot be negative");
  refused(options("rediscluster://127.0.0.1:1/?ns=a{}c"), "fall in different hash slots");

  // The zeros resolved: raus's second, a quarter of the expiry, 1 s calls.
  LeaseOptions defaults;
  defaults.url = parse_redis_url(url);
  const LeaseKeeper by_default(defaults, clock, rec);
  EXPECT_EQ(by_default.refresh_interval(), 1000ms);
  EXPECT_EQ(by_default.margin(), 7500ms);
  EXPECT_EQ(by_default.call_timeout(), 1000ms);
  LeaseOptions short_expiry = defaults;
  short_expiry.expiry = 2s;
  const LeaseKeeper short_one(short_expiry, clock, rec);
  EXPECT_EQ(short_one.refresh_interval(), 666ms);
  EXPECT_EQ(short_one.margin(), 500ms);
  EXPECT_EQ(short_one.call_timeout(), 250ms);
  // A random version 4 uuid, as raus's uuid.NewRandom().
  const std::string& u = by_default.uuid();
  ASSERT_EQ(u.size(), 36u) << u;
  EXPECT_EQ(u[8], '-');
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(u, short_one.uuid());
}

TEST_F(LeaseTest, ClaimHoldAndReleaseInRausKeys) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url("t")), clock, rec);
  const std::int64_t before = clock.now_unix_ms();
  const std::uint32_t id = keeper.claim_at_start();
  const std::string key = "t:id:" + std::to_string(id);
  EXPECT_GE(id, 1u);
  EXPECT_LE(id, 1023u);
  // raus's key and value: {ns}:id:{N} = uuid, with the expiry.
  EXPECT_EQ(redis.cli({"GET", key}), keeper.uuid());
  const int ttl = std::stoi(redis.cli({"TTL", key}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 3);
  // Told once, valid from a start before the claim. No fence yet (a new
  // store): the floor is where any earlier holder's lease has surely ended,
  // expiry - margin + 2 x max clock skew after the claim's start.
  ASSERT_EQ(rec.held().size(), 1u);
  EXPECT_EQ(rec.held()[0].worker, id);
  const std::int64_t wait = kExpiryMs - kMarginMs + 2 * kDefaultMaxClockSkew.count();
  const std::int64_t floor = rec.held()[0].fence;
  EXPECT_GE(floor, before + wait - id::kEpochUnixMs);
  EXPECT_LE(floor, rec.held()[0].at + wait - id::kEpochUnixMs);
  EXPECT_GE(rec.held()[0].valid_until, before + kExpiryMs - kMarginMs);
  EXPECT_LE(rec.held()[0].valid_until, rec.held()[0].at + kExpiryMs - kMarginMs);
  // The hwm written after the claim, with no expiry.
  ASSERT_EQ(rec.hwm().size(), 1u);
  const std::string hwm = "{t:id:" + std::to_string(id) + "}:hwm";
  EXPECT_EQ(redis.cli({"GET", hwm}), std::to_string(rec.hwm()[0]));
  EXPECT_EQ(rec.hwm()[0], rec.held()[0].valid_until - id::kEpochUnixMs) << "not the lease's end";
  EXPECT_EQ(redis.cli({"TTL", hwm}), "-1");
  EXPECT_EQ(keeper.stats().state, LeaseState::held);
  EXPECT_EQ(keeper.stats().worker_id, id);

  keeper.start();
  // Held past the expiry: the refreshes keep it.
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 5; })) << "no refreshes";
  EXPECT_EQ(redis.cli({"GET", key}), keeper.uuid());
  for (const auto& h : rec.held()) {
    EXPECT_EQ(h.worker, id);
    EXPECT_EQ(h.fence, floor) << "a refresh reports the claim's fence";
    EXPECT_LE(h.valid_until, h.at + kExpiryMs - kMarginMs)
        << "valid past refresh + expiry - margin";
  }
  const auto marks = rec.hwm();
  ASSERT_GE(marks.size(), 4u);
  EXPECT_EQ(redis.cli({"GET", hwm}), std::to_string(marks.back()));
  const LeaseStats s = keeper.stats();
  EXPECT_EQ(s.state, LeaseState::held);
  EXPECT_EQ(s.refresh_failures, 0u);
  EXPECT_EQ(s.lease_changes, 0u);
  EXPECT_EQ(s.valid_until_unix_ms, rec.held().back().valid_until);

  const auto t0 = std::chrono::steady_clock::now();
  keeper.stop_and_release();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms) << "stop waited for a refresh";
  EXPECT_EQ(redis.cli({"EXISTS", key}), "0");
  EXPECT_EQ(redis.cli({"GET", hwm}), std::to_string(marks.back())) << "the fence stays";
  keeper.stop_and_release();  // idempotent
}

TEST_F(LeaseTest, TheHoldStepPublishesRausPayloads) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url()), clock, rec);
  const std::uint32_t id = keeper.claim_at_start();
  keeper.start();
  RedisClient listener(parse_redis_url(redis.url()), 300ms);
  std::set<std::string> heard;
  listener.listen("raus:broadcast", 2500ms, [&](std::string_view m) { heard.emplace(m); });
  // What raus's parsePayload reads: uuid ":" N, one colon.
  EXPECT_EQ(heard, (std::set<std::string>{keeper.uuid() + ":" + std::to_string(id)}));
}

TEST_F(LeaseTest, TwoKeepersOnOneNamespaceGetDifferentIdsAndAFullRangeIsAClearError) {
  RedisServer redis;
  Recorder a_rec(clock);
  Recorder b_rec(clock);
  Recorder c_rec(clock);
  LeaseKeeper a(options(redis.url(), 5, 6), clock, a_rec);
  LeaseKeeper b(options(redis.url(), 5, 6), clock, b_rec);
  LeaseKeeper c(options(redis.url(), 5, 6), clock, c_rec);
  const auto ia = a.claim_at_start();
  const auto ib = b.claim_at_start();
  EXPECT_EQ((std::set<std::uint32_t>{ia, ib}), (std::set<std::uint32_t>{5, 6}));
  try {
    c.claim_at_start();
    FAIL() << "a third id from a range of two";
  } catch (const LeaseError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no free worker id in 5..6"), std::string::npos) << msg;
    EXPECT_NE(msg.find(redis.address()), std::string::npos) << msg;
  }
  EXPECT_TRUE(c_rec.held().empty());
}

TEST_F(LeaseTest, UnreachableRedisIsAClearErrorNamingIt) {
  std::uint16_t port = 0;
  {
    RedisServer gone;
    port = gone.port();
  }
  Recorder rec(clock);
  LeaseOptions o = options("redis://127.0.0.1:" + std::to_string(port));
  o.learn_time = 200ms;
  LeaseKeeper keeper(o, clock, rec);
  try {
    keeper.claim_at_start();
    FAIL() << "claimed from nowhere";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.what();
  }
}

TEST_F(LeaseTest, IdsAnnouncedOnTheBroadcastChannelAreSkipped) {
  RedisServer redis;
  // Other holders announce 1..7 (their keys are not even there: raus skips
  // announced ids all the same).
  std::vector<std::string> payloads;
  for (int i = 1; i <= 7; ++i)
    payloads.push_back("other-" + std::to_string(i) + ":" + std::to_string(i));
  payloads.emplace_back("not a payload");
  payloads.emplace_back("a:b:3");
  Announcer announcer(redis, "raus:broadcast", payloads);
  Recorder rec(clock);
  LeaseOptions o = options(redis.url(), 1, 8);
  o.learn_time = 800ms;
  LeaseKeeper keeper(o, clock, rec);
  EXPECT_EQ(keeper.claim_at_start(), 8u) << "an announced id was taken";

  Recorder rec2(clock);
  LeaseOptions full = options(redis.url(), 1, 7);
  full.learn_time = 800ms;
  LeaseKeeper none_left(full, clock, rec2);
  EXPECT_THROW(none_left.claim_at_start(), LeaseError);
}

TEST_F(LeaseTest, OurUuidAnnouncedBySomeoneElseIsAnError) {
  RedisServer redis;
  Announcer announcer(redis, "raus:broadcast", {"same-uuid:3"});
  Recorder rec(clock);
  LeaseOptions o = options(redis.url(), 1, 8);
  o.learn_time = 500ms;
  o.uuid = "same-uuid";
  LeaseKeeper keeper(o, clock, rec);
  try {
    keeper.claim_at_start();
    FAIL() << "claimed with a uuid another process announces";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find("same-uuid"), std::string::npos) << e.what();
  }
}

TEST_F(LeaseTest, AnIdARausProcessHoldsIsSkippedAndOursIsInRausFormat) {
  RedisServer redis;
  // A raus (go-katsubushi) instance holding worker id 7.
  redis.cli({"SET", "raus:id:7", "3b1f0d2e-0000-4000-8000-000000000001", "EX", "600"});
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url(), 7, 8), clock, rec);
  EXPECT_EQ(keeper.claim_at_start(), 8u);
  EXPECT_EQ(redis.cli({"GET", "raus:id:7"}), "3b1f0d2e-0000-4000-8000-000000000001");
  EXPECT_EQ(redis.cli({"GET", "raus:id:8"}), keeper.uuid());
  // A raus starting now tries SET NX on our key and skips it.
  EXPECT_EQ(redis.cli({"SET", "raus:id:8", "a-raus-uuid", "NX", "EX", "600"}), "");
  EXPECT_EQ(redis.cli({"GET", "raus:id:8"}), keeper.uuid());
  // Releasing deletes only our own key.
  keeper.stop_and_release();
  EXPECT_EQ(redis.cli({"EXISTS", "raus:id:8"}), "0");
  EXPECT_EQ(redis.cli({"EXISTS", "raus:id:7"}), "1");
}

TEST_F(LeaseTest, TheHwmFencesTheNextHolderAndOnlyGrows) {
  RedisServer redis;
  std::int64_t mark = 0;
  {
    Recorder rec(clock);
    LeaseKeeper first(options(redis.url(), 3, 3), clock, rec);
    ASSERT_EQ(first.claim_at_start(), 3u);
    mark = rec.hwm().at(0);
    EXPECT_EQ(redis.cli({"GET", "{raus:id:3}:hwm"}), std::to_string(mark));
  }  // released
  Recorder rec(clock);
  LeaseKeeper next(options(redis.url(), 3, 3), clock, rec);
  ASSERT_EQ(next.claim_at_start(), 3u);
  // Fenced by the hwm (and, Redis having just started, by the leases that
  // may have been proved before its start: LeaseTest.AClaimOnANodeRestarted...).
  const std::int64_t next_floor = rec.held().at(0).fence;
  EXPECT_GE(next_floor, mark) << "the next holder of 3 is not fenced by the hwm";

  // A mark lower than the stored one leaves it; a higher one raises it.
  redis.cli({"SET", "{raus:id:3}:hwm", "999999999999"});
  rec.propose([] { return std::int64_t{5}; });
  next.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }));
  EXPECT_EQ(redis.cli({"GET", "{raus:id:3}:hwm"}), "999999999999") << "the hwm went down";
  rec.propose([] { return std::int64_t{1999999999999}; });
  ASSERT_TRUE(
      eventually([&] { return redis.cli({"GET", "{raus:id:3}:hwm"}) == "1999999999999"; }));
  for (const auto& h : rec.held()) {
    EXPECT_EQ(h.fence, next_floor) << "refreshes report the claim's fence";
  }
  // A clean stop with the last id issued drops the fence to it.
  next.stop_and_release(std::int64_t{123456});
  EXPECT_EQ(redis.cli({"GET", "{raus:id:3}:hwm"}), "123456");
  EXPECT_EQ(redis.cli({"EXISTS", "raus:id:3"}), "0");
}

// An hwm that is not a mark cannot fence: the id is given back, not taken
// without a fence, and the key is left for an operator to fix.
TEST_F(LeaseTest, AnUnreadableHwmRefusesTheId) {
  RedisServer redis;
  redis.cli({"SET", "raus:hwm:4", "yesterday"});
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url(), 4, 4), clock, rec);
  try {
    keeper.claim_at_start();
    FAIL() << "claimed an id whose fence is unreadable";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find("raus:hwm:4"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(rec.held().empty());
  EXPECT_EQ(redis.cli({"EXISTS", "raus:id:4"}), "0") << "the id was not given back";
  EXPECT_EQ(redis.cli({"GET", "raus:hwm:4"}), "yesterday");

  // With another id in the range, that one is taken instead (the seeds
  // make some keepers try 4 first).
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Recorder wider(clock);
    LeaseOptions o = options(redis.url(), 4, 5);
    o.seed = seed;
    LeaseKeeper keeper45(o, clock, wider);
    EXPECT_EQ(keeper45.claim_at_start(), 5u);
    EXPECT_EQ(wider.held().size(), 1u);
    EXPECT_EQ(redis.cli({"EXISTS", "raus:id:4"}), "0");
  }  // released
  EXPECT_EQ(redis.cli({"GET", "raus:hwm:4"}), "yesterday");
}

TEST_F(LeaseTest, RedisGoneLongerThanTheLeaseLosesItOnceAndItComesBack) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url()), clock, rec);
  const auto id = keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 2; }));
  const std::int64_t stopped_at = clock.now_unix_ms();
  redis.stop();
  ASSERT_TRUE(eventually([&] { return rec.losses().size() == 1; }, 10s)) << "no loss reported";
  const auto held = rec.held();
  std::int64_t last_valid = 0;
  for (const auto& h : held) {
    // Every refresh that succeeded started before Redis went.
    EXPECT_LE(h.valid_until, stopped_at + kExpiryMs - kMarginMs);
    EXPECT_LE(h.valid_until, h.at + kExpiryMs - kMarginMs);
    last_valid = std::max(last_valid, h.valid_until);
  }
  EXPECT_GE(rec.lost_at().at(0), last_valid) << "lost before the lease's end";
  EXPECT_LT(rec.lost_at().at(0), last_valid + 2000) << "the loss was noticed late";
  EXPECT_GE(keeper.stats().refresh_failures, 1u);
  EXPECT_EQ(keeper.stats().state, LeaseState::lost);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(rec.losses().size(), 1u) << "a loss is reported once";
  EXPECT_EQ(rec.held().size(), held.size()) << "held while Redis is gone";

  redis.start();  // empty: the old key went with it
  ASSERT_TRUE(eventually([&] { return rec.held().size() > held.size(); })) << "not held again";
  EXPECT_EQ(keeper.stats().state, LeaseState::held);
  EXPECT_EQ(keeper.stats().worker_id, id) << "the same id is tried first";
  EXPECT_EQ(keeper.stats().lease_changes, 1u);
  EXPECT_EQ(redis.cli({"GET", "raus:id:" + std::to_string(id)}), keeper.uuid());
}

TEST_F(LeaseTest, AHangingRedisTimesOutLosesTheLeaseAndNeverBlocksStop) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url()), clock, rec);
  keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 2; }));
  redis.pause();
  ASSERT_TRUE(eventually([&] { return rec.losses().size() == 1; }, 10s)) << "hung, not lost";
  EXPECT_GE(keeper.stats().refresh_failures, 2u);
  const auto t0 = std::chrono::steady_clock::now();
  keeper.stop_and_release();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kNoHang) << "stop waited on a hung Redis";
  redis.resume();
}

// A claim against a stopped Redis gives up after the call timeout (the
// daemon then exits 1), but its SET NX is queued on the connection and runs
// when Redis resumes. Without the release queued behind it, the id stayed
// held by a uuid nobody refreshes for the whole expiry. (The keeper reads
// the store's clock before it claims, so a Redis stopped from the start
// fails that read instead: the claim is made here as the keeper makes it.)
TEST_F(LeaseTest, AClaimGivenUpOnAStoppedRedisLeavesNoKeyWhenItResumes) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseOptions o = options(redis.url("t"), 5, 5);
  o.expiry = 600s;  // the key would outlive the test
  LeaseKeeper keeper(o, clock, rec);
  {
    RedisClient client(parse_redis_url(redis.url("t")), 300ms);
    RausKeys keys(client, "a-uuid", 600s);
    redis.pause();
    try {
      keys.claim(5);
      ADD_FAILURE() << "a claim from a stopped Redis";
    } catch (const RedisError& e) {
      EXPECT_NE(std::string(e.what()).find("undo queued"), std::string::npos) << e.what();
    }
  }
  redis.resume();
  // Redis runs what was sent on a connection before it sees the close: once
  // only redis-cli's connection is left, the queued commands have run.
  ASSERT_TRUE(eventually([&] {
    const std::string list = redis.cli({"CLIENT", "LIST"});
    return list.starts_with("id=") && list.find("\nid=") == std::string::npos;
  })) << redis.cli({"CLIENT", "LIST"});
  EXPECT_EQ(redis.cli({"EXISTS", "t:id:5"}), "0") << "held by " << redis.cli({"GET", "t:id:5"});
  // The id is free for the next claim.
  EXPECT_EQ(keeper.claim_at_start(), 5u);
  EXPECT_TRUE(rec.losses().empty());
}

// Refreshes fail past the lease's end while Redis keeps our key (PUBLISH is
// refused, as in a partition the key outlives): lost here, but the id is
// still ours in Redis, so it is taken back at once instead of waiting out
// the key's 30 s expiry (the range has no other id).
TEST_F(LeaseTest, ALeaseLostHereWhileRedisKeepsOurKeyIsTakenBack) {
  RedisServer redis(testing::RedisServerOptions{.extra_args = {"--requirepass", "root-pw"},
                                                .cli_password = "root-pw"});
  redis.cli({"ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*", "+@all"});
  Recorder rec(clock);
  LeaseOptions o = options("redis://app:app-pw@" + redis.address(), 9, 9);
  o.expiry = 30s;
  o.margin = 29s;  // valid for 1 s after a refresh's start
  o.refresh_interval = 300ms;
  LeaseKeeper keeper(o, clock, rec);
  ASSERT_EQ(keeper.claim_at_start(), 9u);
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 2; }));
  redis.cli({"ACL", "SETUSER", "app", "-publish"});
  ASSERT_TRUE(eventually([&] { return rec.losses().size() == 1; }, 5s));
  EXPECT_GT(std::stoi(redis.cli({"TTL", "raus:id:9"})), 20) << "the key should outlive the lease";
  const auto before = rec.held().size();
  redis.cli({"ACL", "SETUSER", "app", "+publish"});
  ASSERT_TRUE(eventually([&] { return rec.held().size() > before; }, 5s))
      << "not taken back while the key still held our uuid";
  EXPECT_EQ(rec.held().back().worker, 9u);
  EXPECT_EQ(keeper.stats().lease_changes, 1u);
  EXPECT_EQ(redis.cli({"GET", "raus:id:9"}), keeper.uuid());
  EXPECT_GT(std::stoi(redis.cli({"TTL", "raus:id:9"})), 25) << "taken back with a fresh expiry";
}

TEST_F(LeaseTest, AnotherHolderTakingTheKeyIsALossAndItIsNeverTakenBack) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url(), 2, 2), clock, rec);
  keeper.claim_at_start();
  keeper.start();
  redis.cli({"SET", "raus:id:2", "someone-else", "EX", "600"});
  ASSERT_TRUE(eventually([&] { return rec.losses().size() == 1; }, 5s));
  EXPECT_LT(rec.lost_at().at(0), rec.held().back().valid_until) << "noticed at the next refresh";
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(redis.cli({"GET", "raus:id:2"}), "someone-else") << "taken back by force";
  EXPECT_EQ(keeper.stats().state, LeaseState::lost);
  keeper.stop_and_release();
  EXPECT_EQ(redis.cli({"GET", "raus:id:2"}), "someone-else") << "released what was not ours";
}

TEST_F(LeaseTest, AKeyThatVanishedIsALossThenTheIdIsClaimedAgainBehindItsFence) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url(), 9, 9), clock, rec);
  keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }));
  redis.cli({"DEL", "raus:id:9"});
  ASSERT_TRUE(eventually([&] { return rec.losses().size() == 1; }, 5s));
  ASSERT_TRUE(eventually([&] { return keeper.stats().lease_changes == 1; }, 5s));
  // Claimed again: it reads the fence, which is our own last mark. The
  // keeper counts the change before it tells its listener, so the claim is
  // awaited as the listener hears it.
  std::optional<Recorder::Held> reclaim;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& h : rec.held()) {
          if (h.at >= rec.lost_at().at(0)) {
            reclaim = h;
            break;
          }
        }
        return reclaim.has_value();
      },
      5s));
  EXPECT_EQ(reclaim->worker, 9u);
  EXPECT_GE(reclaim->fence, rec.hwm().at(0));
  EXPECT_EQ(redis.cli({"GET", "raus:id:9"}), keeper.uuid());
}

// The store forgets (FLUSHALL: the key and the fence gone) while A holds
// the id: B claims it with no fence to read, so B's first id comes after the
// end of any lease A could have proved, on clocks up to twice the skew
// apart: above every mark A confirmed. A loses the id at its next refresh.
TEST_F(LeaseTest, AClaimAfterTheStoreForgotStartsAboveEveryMarkTheOldHolderConfirmed) {
  RedisServer redis;
  Recorder rec_a(clock);
  LeaseKeeper a(options(redis.url(), 6, 6), clock, rec_a);
  ASSERT_EQ(a.claim_at_start(), 6u);
  a.start();
  ASSERT_TRUE(eventually([&] { return rec_a.hwm().size() >= 3; }));
  redis.cli({"FLUSHALL"});
  Recorder rec_b(clock);
  LeaseKeeper b(options(redis.url(), 6, 6), clock, rec_b);
  const std::int64_t claim_start = clock.now_unix_ms();
  ASSERT_EQ(b.claim_at_start(), 6u);
  ASSERT_TRUE(eventually([&] { return !rec_a.losses().empty(); }, 5s)) << "A kept the id";
  const std::int64_t b_floor = rec_b.held().at(0).fence;
  for (const std::int64_t mark : rec_a.hwm()) {
    EXPECT_GT(b_floor, mark) << "B may issue below a mark A confirmed";
  }
  const std::int64_t wait = kExpiryMs - kMarginMs + 2 * kDefaultMaxClockSkew.count();
  EXPECT_GE(b_floor + id::kEpochUnixMs, claim_start + wait);
  // A's refreshes find B's key: A never raised the fence after B's claim.
  EXPECT_EQ(a.stats().state, LeaseState::lost);
  EXPECT_EQ(redis.cli({"GET", "{raus:id:6}:hwm"}), std::to_string(rec_b.hwm().back()));
}

// Redis restarted from a snapshot taken while A held the id: the fence in it
// is older than the marks A confirmed since, and A's key is gone. B claims
// and finds that stale fence; the node's uptime says it started after A's
// last proof could have been made, so B waits out A's lease from there.
TEST_F(LeaseTest, AClaimOnANodeRestartedFromASnapshotStartsAboveEveryMarkBeforeIt) {
  RedisServer redis;
  Recorder rec_a(clock);
  std::vector<std::int64_t> a_marks;
  {
    LeaseKeeper a(options(redis.url(), 6, 6), clock, rec_a);
    ASSERT_EQ(a.claim_at_start(), 6u);
    a.start();
    ASSERT_TRUE(eventually([&] { return rec_a.hwm().size() >= 2; }));
    redis.cli({"SAVE"});
    const std::size_t saved = rec_a.hwm().size();
    ASSERT_TRUE(eventually([&] { return rec_a.hwm().size() >= saved + 2; }));
    redis.stop();  // SIGKILL: what follows the SAVE is lost
    a_marks = rec_a.hwm();
  }  // A's release fails: Redis is down
  redis.start();  // from the snapshot
  const std::string stale = redis.cli({"GET", "{raus:id:6}:hwm"});
  ASSERT_NE(stale, "") << "the snapshot has no fence";
  ASSERT_LT(std::stoll(stale), a_marks.back()) << "the snapshot's fence is not stale";
  ASSERT_TRUE(eventually([&] { return redis.cli({"EXISTS", "raus:id:6"}) == "0"; }, 5s));
  Recorder rec_b(clock);
  LeaseKeeper b(options(redis.url(), 6, 6), clock, rec_b);
  ASSERT_EQ(b.claim_at_start(), 6u);
  const std::int64_t b_floor = rec_b.held().at(0).fence;
  for (const std::int64_t mark : a_marks) {
    EXPECT_GT(b_floor, mark) << "B may issue below a mark A confirmed before the restart";
  }
}

// A clock that moves with an offset the test sets.
class OffsetClock final : public id::Clock {
 public:
  std::int64_t now_unix_ms() override { return base_.now_unix_ms() + offset_ms.load(); }
  void sleep_until_unix_ms(std::int64_t target) override {
    base_.sleep_until_unix_ms(target - offset_ms.load());
  }
  std::atomic<std::int64_t> offset_ms{0};

 private:
  id::SystemClock base_;
};

TEST_F(LeaseTest, AClockOffTheStoresIsRefusedAClaimAndPausesIdsWhileHeld) {
  RedisServer redis;
  OffsetClock skewed;
  Recorder rec(skewed);
  LeaseOptions o = options(redis.url(), 2, 2);
  o.max_clock_skew = 400ms;
  {
    skewed.offset_ms = 5000;
    LeaseKeeper refused(o, skewed, rec);
    try {
      refused.claim_at_start();
      ADD_FAILURE() << "claimed with a clock 5 s ahead of the store's";
    } catch (const LeaseError& e) {
      EXPECT_NE(std::string(e.what()).find("ahead of the store's"), std::string::npos)
          << e.what();
    }
    EXPECT_NEAR(static_cast<double>(refused.stats().store_clock_skew_ms), -5000.0, 300.0);
    EXPECT_EQ(redis.cli({"EXISTS", "raus:id:2"}), "0") << "claimed anyway";
  }
  skewed.offset_ms = 0;
  LeaseKeeper keeper(o, skewed, rec);
  ASSERT_EQ(keeper.claim_at_start(), 2u);
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }));
  // Stepped back 3 s while held: ids pause, the key is kept, the fence is
  // not raised; stepped back into line, ids resume without a loss.
  skewed.offset_ms = -3000;
  ASSERT_TRUE(eventually([&] { return keeper.stats().state == LeaseState::paused; }, 5s));
  EXPECT_NE(keeper.stats().why.find("behind the store's"), std::string::npos)
      << keeper.stats().why;
  ASSERT_EQ(rec.pauses().size(), 1u);
  const std::size_t marks = rec.hwm().size();
  std::this_thread::sleep_for(2500ms);  // past the lease's end: kept all the same
  EXPECT_EQ(rec.hwm().size(), marks) << "the fence was raised while paused";
  EXPECT_EQ(redis.cli({"GET", "raus:id:2"}), keeper.uuid());
  EXPECT_EQ(keeper.stats().state, LeaseState::paused);
  skewed.offset_ms = 0;
  ASSERT_TRUE(eventually([&] { return keeper.stats().state == LeaseState::held; }, 5s));
  EXPECT_GT(rec.hwm().size(), marks);
  EXPECT_TRUE(rec.losses().empty()) << rec.losses().front();
  EXPECT_EQ(keeper.stats().lease_changes, 0u);
}

TEST_F(LeaseTest, ASynchronisedKernelWithAWideErrorBoundIsRefusedAClaim) {
  RedisServer redis;
  Recorder rec(clock);
  std::atomic<std::int64_t> max_error_us{5'000'000};
  LeaseOptions o = options(redis.url(), 2, 2);
  o.kernel_clock = [&] {
    return id::KernelClock{.synced = true, .max_error_us = max_error_us.load(), .est_error_us = 0};
  };
  LeaseKeeper keeper(o, clock, rec);
  try {
    keeper.claim_at_start();
    ADD_FAILURE() << "claimed with a 5 s error bound";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find("kernel's clock error bound is 5000 ms"),
              std::string::npos)
        << e.what();
  }
  keeper.start();  // keeps trying
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(keeper.stats().state, LeaseState::claiming);
  EXPECT_NE(keeper.stats().why.find("kernel's clock error bound"), std::string::npos);
  max_error_us = 20'000;
  ASSERT_TRUE(eventually([&] { return keeper.stats().state == LeaseState::held; }, 5s));
}

// -redis-wait-replicas: a fence only a master has does not count.
TEST_F(LeaseTest, AFenceNoReplicaAcknowledgedDoesNotCountAndOneAReplicaHasDoes) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseOptions o = options(redis.url(), 2, 2);
  o.wait_replicas = 1;
  {
    LeaseKeeper alone(o, clock, rec);
    ASSERT_EQ(alone.claim_at_start(), 2u);
    alone.start();
    ASSERT_TRUE(eventually([&] { return !rec.losses().empty(); }, 6s))
        << "held past its end with no fence acknowledged";
    EXPECT_TRUE(rec.hwm().empty()) << "an unacknowledged fence counted";
    EXPECT_GE(alone.stats().refresh_failures, 1u);
  }
  RedisServer replica(testing::RedisServerOptions{
      .extra_args = {"--replicaof", "127.0.0.1", std::to_string(redis.port())}});
  ASSERT_TRUE(eventually([&] {
    return redis.cli({"INFO", "replication"}).find("state=online") != std::string::npos;
  })) << redis.cli({"INFO", "replication"});
  Recorder rec2(clock);
  LeaseKeeper replicated(o, clock, rec2);
  ASSERT_EQ(replicated.claim_at_start(), 2u);
  replicated.start();  // the first sync may outlast the claim's WAIT
  ASSERT_TRUE(eventually([&] { return !rec2.hwm().empty(); }, 5s))
      << redis.cli({"INFO", "replication"});
  ASSERT_TRUE(eventually([&] {
    return replica.cli({"GET", "{raus:id:2}:hwm"}) == std::to_string(rec2.hwm().back());
  }));
}

TEST_F(LeaseTest, GarbageOrSilentServersAreErrorsNotCrashesOrHangs) {
  struct Case {
    FakeRedis::Mode mode;
    std::string bytes;
  };
  for (const Case& c : std::vector<Case>{
           {FakeRedis::Mode::reply, "hello\r\n"},
           {FakeRedis::Mode::reply, ":1\r\n"},   // Redis protocol, the wrong reply
           {FakeRedis::Mode::reply, "+OK\r\n"},  // "claims" anything; the hwm GET is wrong
           {FakeRedis::Mode::reply_then_close, "$5\r\nab"},
           {FakeRedis::Mode::silent, ""},
           {FakeRedis::Mode::close_at_once, ""}}) {
    FakeRedis fake(c.mode, c.bytes);
    Recorder rec(clock);
    LeaseOptions o = options(fake.url());
    o.learn_time = 200ms;
    LeaseKeeper keeper(o, clock, rec);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      keeper.claim_at_start();
      ADD_FAILURE() << "claimed from a server answering " << ::testing::PrintToString(c.bytes);
    } catch (const LeaseError& e) {
      EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(fake.port())),
                std::string::npos)
          << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2 * kNoHang) << c.bytes;
    // The thread keeps trying, without a crash, and stops when told.
    keeper.start();
    std::this_thread::sleep_for(300ms);
    EXPECT_NE(keeper.stats().state, LeaseState::held);
    const auto t1 = std::chrono::steady_clock::now();
    keeper.stop_and_release();
    EXPECT_LT(std::chrono::steady_clock::now() - t1, kNoHang);
    EXPECT_TRUE(rec.held().empty());
  }
}

TEST_F(LeaseTest, AClusterClaimsHoldsAndSurvivesLosingTheKeysNode) {
  RedisCluster cluster;
  Recorder rec(clock);
  LeaseOptions o = options(cluster.url("c"));
  o.learn_time = 300ms;
  LeaseKeeper keeper(o, clock, rec);
  const auto id = keeper.claim_at_start();
  const std::string key = "c:id:" + std::to_string(id);
  EXPECT_EQ(cluster.node(cluster.owner_of(key)).cli({"GET", key}), keeper.uuid());
  const std::string hwm_key = "{c:id:" + std::to_string(id) + "}:hwm";
  EXPECT_EQ(cluster.owner_of(hwm_key), cluster.owner_of(key)) << "the fence is on another node";
  EXPECT_EQ(cluster.node(cluster.owner_of(hwm_key)).cli({"GET", hwm_key}),
            std::to_string(rec.hwm().at(0)));
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 3; })) << "no refreshes on a cluster";
  EXPECT_EQ(keeper.stats().refresh_failures, 0u);

  // The node with our key dies (no replica takes over): refreshes fail.
  const std::size_t owner = cluster.kill_owner_of(key);
  const std::int64_t killed_at = clock.now_unix_ms();
  ASSERT_TRUE(eventually([&] { return keeper.stats().refresh_failures >= 1; }, 10s));
  // Two honest outcomes: the lease runs out (and another id, on a live
  // node, may be claimed) or the node is back before it does.
  const bool lost = eventually([&] { return !rec.losses().empty(); }, 6s);
  cluster.node(owner).start();
  ASSERT_TRUE(eventually([&] { return keeper.stats().state == LeaseState::held; }, 30s))
      << "no lease after the node came back";
  const auto held = rec.held();
  if (!lost) {
    for (const auto& h : held) EXPECT_EQ(h.worker, id) << "changed ids without a loss";
  } else {
    EXPECT_EQ(rec.losses().size(), 1u);
    EXPECT_GE(rec.lost_at().at(0), killed_at);
    EXPECT_GE(keeper.stats().lease_changes, 1u);
    // Nothing after the kill was valid past the last refresh before it.
    for (const auto& h : held) {
      if (h.at < rec.lost_at().at(0)) {
        EXPECT_LE(h.valid_until, killed_at + kExpiryMs - kMarginMs);
      }
    }
  }
  const std::uint32_t now_held = keeper.stats().worker_id;
  const std::string now_key = "c:id:" + std::to_string(now_held);
  EXPECT_EQ(cluster.node(cluster.owner_of(now_key)).cli({"GET", now_key}), keeper.uuid());
  keeper.stop_and_release();
  EXPECT_EQ(cluster.node(cluster.owner_of(now_key)).cli({"EXISTS", now_key}), "0");
}

}  // namespace
}  // namespace katsubushi::lease
