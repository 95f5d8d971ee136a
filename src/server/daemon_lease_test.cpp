// -redis on the real daemon, against redis-server processes the tests start
// on free loopback ports: distinct worker ids, a full range and an
// unreachable Redis at start, no id past the lease's end while Redis is gone
// and ids again when it returns, and a worker id handed from a daemon whose
// clock runs ahead to one whose clock does not, fenced by {ns}:hwm:{N}.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "id/layout.hpp"
#include "testing/daemon_process.hpp"
#include "testing/loopback_client.hpp"
#include "testing/redis_server.hpp"

namespace katsubushi::testing {
namespace {

class DaemonLease : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_available()) GTEST_SKIP() << "redis-server is not installed";
  }
};

TEST_F(DaemonLease, TwoDaemonsTakeDifferentIdsAndGiveThemBack) {
  RedisServer redis;
  DaemonProcess a;
  DaemonProcess b;
  const std::vector<std::string> args = {"-redis=" + redis.url("k"), "-min-worker-id=3",
                                         "-max-worker-id=4", "-lease-ttl=2s", "-threads=1"};
  ASSERT_TRUE(a.start_tcp(args)) << a.log();
  ASSERT_TRUE(b.start_tcp(args)) << b.log();
  LoopbackClient ca;
  LoopbackClient cb;
  ASSERT_TRUE(ca.connect_tcp("127.0.0.1", a.port()));
  ASSERT_TRUE(cb.connect_tcp("127.0.0.1", b.port()));
  const auto sa = query_stats(ca);
  const auto sb = query_stats(cb);
  EXPECT_EQ(sa.at("lease_state"), "held");
  EXPECT_EQ(sb.at("lease_state"), "held");
  const auto wa = stat_value(sa, "worker_id");
  const auto wb = stat_value(sb, "worker_id");
  EXPECT_NE(wa, wb);
  EXPECT_TRUE((wa == 3 && wb == 4) || (wa == 4 && wb == 3)) << wa << " " << wb;
  const auto ida = first_id(ca, 10s);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(ida)) << std::get<std::string>(ida);
  EXPECT_EQ(id::decode(std::get<std::uint64_t>(ida)).worker_id, static_cast<std::uint32_t>(wa));

  const auto status = a.stop(SIGTERM);
  ASSERT_TRUE(status && status->clean()) << a.log();
  EXPECT_EQ(redis.cli({"EXISTS", "k:id:" + std::to_string(wa)}), "0") << "not given back";
  EXPECT_EQ(redis.cli({"EXISTS", "k:id:" + std::to_string(wb)}), "1");
}

TEST_F(DaemonLease, AFullRangeOrAnUnreachableRedisIsAStartUpError) {
  RedisServer redis;
  redis.cli({"SET", "raus:id:9", "held-by-a-go-katsubushi", "EX", "600"});
  auto r = run_command(daemon_binary(), {"-redis=" + redis.url(), "-min-worker-id=9",
                                         "-max-worker-id=9", "-port=0"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("no free worker id in 9..9"), std::string::npos) << r.err;

  const std::uint16_t nobody = free_tcp_port();
  r = run_command(daemon_binary(),
                  {"-redis=redis://127.0.0.1:" + std::to_string(nobody), "-port=0"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:" + std::to_string(nobody)), std::string::npos) << r.err;

  r = run_command(daemon_binary(), {"-redis=http://x", "-port=0"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 2) << r.err;
  EXPECT_NE(r.err.find("-redis"), std::string::npos) << r.err;
}

TEST_F(DaemonLease, RedisGoneLongerThanTheLeaseStopsIdsAtItsEndAndTheyResume) {
  RedisServer redis;
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-redis=" + redis.url(), "-lease-ttl=3s", "-threads=1"})) << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(first_id(c, 10s)));
  const std::int64_t stopped_at = now_unix_ms();
  redis.stop();
  // Ids go on for at most expiry - margin (3 s - 0.75 s) after the last
  // refresh, which came before Redis went; then SERVER_ERROR.
  std::string refusal;
  for (int i = 0; i < 400 && refusal.empty(); ++i) {
    const auto r = get_one_id(c);
    if (const auto* id_value = std::get_if<std::uint64_t>(&r)) {
      EXPECT_LT(id::decode(*id_value).timestamp_ms + id::kEpochUnixMs, stopped_at + 2250)
          << "an id issued after the lease's end";
    } else {
      refusal = std::get<std::string>(r);
    }
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(refusal, "SERVER_ERROR no valid worker id lease");
  auto stats = query_stats(c);
  EXPECT_EQ(stats.at("lease_state"), "lost");
  EXPECT_GE(stat_value(stats, "lease_refresh_failures"), 1);

  redis.start();  // empty: the claim finds no fence and waits 2.25 s + 2 s
  bool resumed = false;
  for (int i = 0; i < 300 && !resumed; ++i) {
    resumed = std::holds_alternative<std::uint64_t>(get_one_id(c));
    if (!resumed) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(resumed) << d.log();
  stats = query_stats(c);
  EXPECT_EQ(stats.at("lease_state"), "held");
  EXPECT_EQ(stat_value(stats, "lease_changes"), 1);
  EXPECT_TRUE(d.running()) << "the daemon exited on a lost lease";
}

TEST_F(DaemonLease, ARedisClusterServesLeases) {
  RedisCluster cluster;
  DaemonProcess d;
  // A 2 s lease: the first claim of a new namespace waits 1.5 s + 2 s.
  ASSERT_TRUE(d.start_tcp({"-redis=" + cluster.url("kc"), "-lease-ttl=2s", "-threads=1"}))
      << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  const auto stats = query_stats(c);
  EXPECT_EQ(stats.at("lease_state"), "held");
  const auto worker = stat_value(stats, "worker_id");
  const std::string key = "kc:id:" + std::to_string(worker);
  EXPECT_NE(cluster.node(cluster.owner_of(key)).cli({"GET", key}), "");
  const auto r = first_id(c, 10s);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r)) << std::get<std::string>(r);
  EXPECT_EQ(id::decode(std::get<std::uint64_t>(r)).worker_id, static_cast<std::uint32_t>(worker));
  const auto status = d.stop(SIGTERM);
  ASSERT_TRUE(status && status->clean()) << d.log();
  EXPECT_EQ(cluster.node(cluster.owner_of(key)).cli({"EXISTS", key}), "0");
}

// Daemon A holds worker id 5 with its clock 4 s ahead (allowed by a wider
// -max-clock-skew) and dies; daemon B, on the real clock, claims 5 once A's
// key expires. B must issue nothing at or below A's mark, so its first id is
// above every id A issued.
TEST_F(DaemonLease, AHandoffFromAClockAheadIsFencedByTheHwm) {
  if (kSanitized) GTEST_SKIP() << "libfaketime is preloaded, which sanitizer runtimes refuse";
  const std::vector<std::string> fake = faketime_env("+4s");
  if (fake.empty()) GTEST_SKIP() << "libfaketime is not installed";
  RedisServer redis;
  const std::vector<std::string> args = {"-redis=" + redis.url(), "-min-worker-id=5",
                                         "-max-worker-id=5", "-lease-ttl=2s", "-threads=1"};
  std::uint64_t a_max = 0;
  {
    DaemonProcess a;
    // 4 s ahead of Redis's clock: allowed here by a wider -max-clock-skew,
    // which also makes the first claim on this new Redis wait 1.5 s + 10 s.
    std::vector<std::string> a_args = args;
    a_args.emplace_back("-max-clock-skew=5s");
    ASSERT_TRUE(a.start_tcp(a_args, fake)) << a.log();
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", a.port()));
    ASSERT_TRUE(std::holds_alternative<std::uint64_t>(first_id(c, 20s))) << a.log();
    for (int i = 0; i < 50; ++i) {
      const auto r = get_one_id(c);
      ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r)) << std::get<std::string>(r);
      a_max = std::max(a_max, std::get<std::uint64_t>(r));
    }
    a.stop(SIGKILL);
  }
  ASSERT_GT(id::decode(a_max).timestamp_ms + id::kEpochUnixMs, now_unix_ms() + 2000)
      << "daemon A's clock was not ahead";
  // A's key expires by itself (2 s); B then takes worker id 5.
  for (int i = 0; i < 100 && redis.cli({"EXISTS", "raus:id:5"}) != "0"; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  DaemonProcess b;
  ASSERT_TRUE(b.start_tcp(args)) << b.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", b.port()));
  const auto first = get_one_id(c);
  ASSERT_TRUE(std::holds_alternative<std::string>(first))
      << "B issued at once, below A's mark: " << std::get<std::uint64_t>(first);
  EXPECT_EQ(std::get<std::string>(first),
            "SERVER_ERROR clock has not yet passed the last reserved mark");
  std::uint64_t b_first = 0;
  for (int i = 0; i < 300 && b_first == 0; ++i) {
    const auto r = get_one_id(c);
    if (const auto* id_value = std::get_if<std::uint64_t>(&r)) {
      b_first = *id_value;
    } else {
      std::this_thread::sleep_for(50ms);
    }
  }
  ASSERT_NE(b_first, 0u) << b.log();
  EXPECT_GT(b_first, a_max);
  EXPECT_EQ(id::decode(b_first).worker_id, 5u);
}

}  // namespace
}  // namespace katsubushi::testing
