// The lease keeper against real redis-server processes (single and a 3-node
// cluster) started by the tests on free loopback ports. Expiries are short
// (3 s) so losses happen within a test; the system clock is the lease clock.
#include "lease/lease_keeper.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "id/clock.hpp"
#include "id/layout.hpp"
#include "lease/redis_client.hpp"
#include "lease/redis_url.hpp"
#include "testing/redis_server.hpp"

namespace katsubushi::lease {
namespace {

using namespace std::chrono_literals;
using testing::RedisCluster;
using testing::RedisServer;

// Records what the keeper says; proposes hwm marks 2 s ahead of the clock.
class Recorder final : public LeaseListener {
 public:
  explicit Recorder(id::Clock& clock) : clock_(clock) {}

  struct Held {
    std::uint32_t worker;
    std::int64_t valid_until;
    std::int64_t fence;
    std::int64_t at;  // when it was said
  };

  void lease_held(std::uint32_t worker, std::int64_t valid_until, std::int64_t fence) override {
    std::lock_guard lock(mu_);
    held_.push_back({worker, valid_until, fence, clock_.now_unix_ms()});
  }
  void lease_lost(std::string_view why) override {
    std::lock_guard lock(mu_);
    losses_.emplace_back(why);
    lost_at_.push_back(clock_.now_unix_ms());
  }
  std::int64_t hwm_to_write() override {
    return clock_.now_unix_ms() - id::kEpochUnixMs + 2000;
  }
  void hwm_written(std::int64_t mark) override {
    std::lock_guard lock(mu_);
    hwm_.push_back(mark);
  }

  std::vector<Held> held() const {
    std::lock_guard lock(mu_);
    return held_;
  }
  std::size_t losses() const {
    std::lock_guard lock(mu_);
    return losses_.size();
  }
  std::vector<std::int64_t> hwm() const {
    std::lock_guard lock(mu_);
    return hwm_;
  }

 private:
  id::Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Held> held_;
  std::vector<std::string> losses_;
  std::vector<std::int64_t> lost_at_;
  std::vector<std::int64_t> hwm_;
};

LeaseOptions options(const std::string& url, std::uint32_t lo = 1, std::uint32_t hi = 1023) {
  LeaseOptions o;
  o.url = parse_redis_url(url);
  o.min_worker_id = lo;
  o.max_worker_id = hi;
  o.expiry = 3s;
  o.call_timeout = 300ms;
  o.max_backoff = 500ms;
  return o;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 15s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::redis_available()) GTEST_SKIP() << "redis-server is not installed";
  }
  id::SystemClock clock;
};

TEST_F(LeaseTest, ClaimHoldAndReleaseInRausKeys) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url("t")), clock, rec);
  const std::uint32_t id = keeper.claim_at_start();
  EXPECT_GE(id, 1u);
  EXPECT_LE(id, 1023u);
  // raus's key and value: {ns}:id:{N} = uuid, with an expiry.
  EXPECT_EQ(redis.cli({"GET", "t:id:" + std::to_string(id)}), keeper.uuid());
  const int ttl = std::stoi(redis.cli({"TTL", "t:id:" + std::to_string(id)}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 3);
  // The fence: nothing there before; the hwm written after the claim.
  ASSERT_FALSE(rec.held().empty());
  EXPECT_EQ(rec.held()[0].fence, -1);
  EXPECT_EQ(redis.cli({"GET", "t:hwm:" + std::to_string(id)}), std::to_string(rec.hwm().at(0)));

  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 4; })) << "no refreshes";
  // Held past the expiry: the refreshes keep it.
  EXPECT_EQ(redis.cli({"GET", "t:id:" + std::to_string(id)}), keeper.uuid());
  for (const auto& h : rec.held()) {
    EXPECT_EQ(h.worker, id);
    EXPECT_LE(h.valid_until, h.at + 3000 - 750) << "valid past refresh + expiry - margin";
  }
  // The hwm only grows.
  const auto marks = rec.hwm();
  for (std::size_t i = 1; i < marks.size(); ++i) EXPECT_GE(marks[i], marks[i - 1]);
  EXPECT_EQ(keeper.stats().state, LeaseState::held);

  keeper.stop_and_release();
  EXPECT_EQ(redis.cli({"EXISTS", "t:id:" + std::to_string(id)}), "0");
  EXPECT_NE(redis.cli({"GET", "t:hwm:" + std::to_string(id)}), "") << "the fence stays";
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
  EXPECT_NE(ia, ib);
  EXPECT_EQ((std::set<std::uint32_t>{ia, ib}), (std::set<std::uint32_t>{5, 6}));
  try {
    c.claim_at_start();
    FAIL() << "a third id from a range of two";
  } catch (const LeaseError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no free worker id in 5..6"), std::string::npos) << msg;
    EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(redis.port())), std::string::npos) << msg;
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
  // What raus reads back: a uuid string (8-4-4-4-12 hex).
  const std::string ours = redis.cli({"GET", "raus:id:8"});
  ASSERT_EQ(ours.size(), 36u) << ours;
  EXPECT_EQ(ours[8], '-');
  EXPECT_EQ(ours[14], '4');
}

TEST_F(LeaseTest, ANewHolderIsFencedByTheHwmAndAGarbageHwmIsRefused) {
  RedisServer redis;
  redis.cli({"SET", "raus:hwm:3", "999999999999"});
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url(), 3, 3), clock, rec);
  EXPECT_EQ(keeper.claim_at_start(), 3u);
  EXPECT_EQ(rec.held().at(0).fence, 999999999999);
  // A lower mark does not lower it.
  EXPECT_EQ(redis.cli({"GET", "raus:hwm:3"}), "999999999999");

  redis.cli({"SET", "raus:hwm:4", "yesterday"});
  Recorder rec2(clock);
  LeaseKeeper other(options(redis.url(), 4, 4), clock, rec2);
  try {
    other.claim_at_start();
    FAIL() << "claimed an id whose fence is unreadable";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find("raus:hwm:4"), std::string::npos) << e.what();
  }
  EXPECT_EQ(redis.cli({"EXISTS", "raus:id:4"}), "0") << "the id was not given back";
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
  ASSERT_TRUE(eventually([&] { return rec.losses() == 1; }, 10s)) << "no loss reported";
  // Nothing said after Redis went claims a validity past its last chance.
  for (const auto& h : rec.held()) EXPECT_LE(h.valid_until, stopped_at + 3000 - 750);
  EXPECT_GE(keeper.stats().refresh_failures, 1u);
  EXPECT_EQ(keeper.stats().state, LeaseState::lost);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(rec.losses(), 1u) << "a loss is reported once";

  redis.start();  // empty: the old key went with it
  const auto before = rec.held().size();
  ASSERT_TRUE(eventually([&] { return rec.held().size() > before; })) << "not held again";
  EXPECT_EQ(keeper.stats().state, LeaseState::held);
  EXPECT_EQ(keeper.stats().worker_id, id) << "the same id is tried first";
  EXPECT_EQ(keeper.stats().lease_changes, 1u);
}

TEST_F(LeaseTest, AHangingRedisTimesOutAndNeverBlocksStop) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url()), clock, rec);
  keeper.claim_at_start();
  keeper.start();
  redis.pause();
  ASSERT_TRUE(eventually([&] { return keeper.stats().refresh_failures >= 2; }, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  keeper.stop_and_release();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "stop waited on a hung Redis";
  redis.resume();
}

TEST_F(LeaseTest, AnotherHolderTakingTheKeyIsALoss) {
  RedisServer redis;
  Recorder rec(clock);
  LeaseKeeper keeper(options(redis.url(), 2, 2), clock, rec);
  keeper.claim_at_start();
  keeper.start();
  redis.cli({"SET", "raus:id:2", "someone-else", "EX", "600"});
  ASSERT_TRUE(eventually([&] { return rec.losses() == 1; }, 5s));
  EXPECT_EQ(redis.cli({"GET", "raus:id:2"}), "someone-else") << "never taken back by force";
  keeper.stop_and_release();
  EXPECT_EQ(redis.cli({"GET", "raus:id:2"}), "someone-else") << "released what was not ours";
}

TEST_F(LeaseTest, AClusterClaimsHoldsAndSurvivesLosingTheKeysNode) {
  RedisCluster cluster;
  Recorder rec(clock);
  LeaseKeeper keeper(options(cluster.url("c")), clock, rec);
  const auto id = keeper.claim_at_start();
  const std::string key = "c:id:" + std::to_string(id);
  const auto owner = cluster.owner_of(key);
  EXPECT_EQ(cluster.node(owner).cli({"GET", key}), keeper.uuid());
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.held().size() >= 3; })) << "no refreshes on a cluster";

  // The node with our key dies (no replica takes over): refreshes fail.
  cluster.node(owner).stop();
  ASSERT_TRUE(eventually([&] { return keeper.stats().refresh_failures >= 1; }, 10s));
  // Either the lease is lost (and maybe another id, on a live node, taken)
  // or the node comes back first; both end with a lease held.
  const bool lost = eventually([&] { return rec.losses() >= 1; }, 6s);
  cluster.node(owner).start();
  ASSERT_TRUE(eventually([&] { return keeper.stats().state == LeaseState::held; }, 30s))
      << "no lease after the node came back";
  if (lost) {
    EXPECT_GE(keeper.stats().lease_changes, 1u);
  }
  keeper.stop_and_release();
}

}  // namespace
}  // namespace katsubushi::lease
