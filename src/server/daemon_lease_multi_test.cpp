// -worker-id-count with -redis on the real daemon, against a redis-server
// the test starts on a free loopback port: K leases, each its own key, and a
// lease taken by someone else leaves the other ids serving, in order.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <cstdint>
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

using namespace std::chrono_literals;

// Stats once `name` reads `want`, or the last read after `limit`.
std::map<std::string, std::string> stats_once(LoopbackClient& c, const std::string& name,
                                              const std::string& want,
                                              std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto stats = query_stats(c);
    if ((stats.contains(name) && stats.at(name) == want) || std::chrono::steady_clock::now() > until) {
      return stats;
    }
    std::this_thread::sleep_for(50ms);
  }
}

TEST(DaemonLeaseMulti, ALeaseTakenAmongThreeLeavesTheOthersServingInOrder) {
  if (!redis_available()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-redis=" + redis.url("k"), "-worker-id-count=3", "-min-worker-id=3",
                           "-max-worker-id=5", "-lease-ttl=2s", "-threads=1"}))
      << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  // Fresh claims (no fence yet) wait out any earlier holder's lease first.
  const auto first = first_id(c, 15s);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(first)) << std::get<std::string>(first);
  auto stats = stats_once(c, "worker_ids_serving", "3", 15s);
  EXPECT_EQ(stats.at("lease_state"), "held");
  EXPECT_EQ(stat_value(stats, "worker_id_count"), 3);
  EXPECT_EQ(stat_value(stats, "worker_ids_serving"), 3);
  for (const char* w : {"3", "4", "5"}) {
    EXPECT_EQ(redis.cli({"EXISTS", std::string("k:id:") + w}), "1") << w;
  }

  // Worker id 4's key now names another holder: that lease is lost.
  EXPECT_EQ(redis.cli({"SET", "k:id:4", "someone-else", "EX", "600"}), "OK");
  stats = stats_once(c, "worker:4:state", "no_lease", 15s);
  ASSERT_EQ(stats.at("worker:4:state"), "no_lease") << d.log();
  EXPECT_EQ(stat_value(stats, "worker_ids_serving"), 2);
  EXPECT_EQ(stats.at("worker:3:state"), "serving");
  EXPECT_EQ(stats.at("worker:5:state"), "serving");
  const std::int64_t issued_by_4 = stat_value(stats, "worker:4:ids_issued");

  std::uint64_t last = std::get<std::uint64_t>(first);
  for (int round = 0; round < 20; ++round) {
    std::string line = "get";
    for (int k = 0; k < 100; ++k) line += " k" + std::to_string(k);
    const auto values = request_ids(c, line);
    ASSERT_TRUE(values) << "round " << round;
    ASSERT_EQ(values->size(), 100u);
    for (const auto& v : *values) {
      ASSERT_GT(v.id, last);
      last = v.id;
      EXPECT_NE(id::decode(v.id).worker_id, 4u) << "an id of the lost lease";
    }
  }
  stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "worker:4:ids_issued"), issued_by_4);
  EXPECT_EQ(redis.cli({"GET", "k:id:4"}), "someone-else") << "never taken back by force";
  const auto status = d.stop(SIGTERM);
  ASSERT_TRUE(status && status->clean()) << d.log();
  EXPECT_EQ(redis.cli({"EXISTS", "k:id:3"}), "0") << "given back";
  EXPECT_EQ(redis.cli({"EXISTS", "k:id:5"}), "0") << "given back";
}

}  // namespace
}  // namespace katsubushi::testing
