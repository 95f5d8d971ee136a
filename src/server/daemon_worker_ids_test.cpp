// -worker-id-count on the real daemon with static worker ids: W..W+K-1 are
// held and reported one by one in stats and /metrics, ids increase across
// connections whichever worker id they carry, the state file names the ids
// it covers and a restart stays above it, and a range past the layout is a
// flag error.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <string>
#include <vector>

#include "id/layout.hpp"
#include "state/state_file.hpp"
#include "testing/daemon_process.hpp"
#include "testing/loopback_client.hpp"

namespace katsubushi::testing {
namespace {

// A get of `n` keys, its ids in order.
std::vector<std::uint64_t> get_ids(LoopbackClient& c, std::size_t n) {
  std::string line = "get";
  for (std::size_t i = 0; i < n; ++i) line += " k" + std::to_string(i);
  const auto values = request_ids(c, line);
  std::vector<std::uint64_t> ids;
  if (!values) {
    ADD_FAILURE() << "no reply to a get of " << n << " keys";
    return ids;
  }
  for (const auto& v : *values) ids.push_back(v.id);
  return ids;
}

// A daemon that must not start: its exit code, and its log must say `why`.
void expect_refused(const std::vector<std::string>& args, int code, const std::string& why) {
  DaemonProcess d;
  ASSERT_TRUE(d.spawn(args));
  const auto status = d.wait_exit();
  ASSERT_TRUE(status) << d.log();
  EXPECT_EQ(status->code, code) << status->describe();
  EXPECT_NE(d.log().find(why), std::string::npos) << d.log();
}

TEST(DaemonWorkerIds, FourHeldIdsServeInOrderAndAreReportedOneByOne) {
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-worker-id=6", "-worker-id-count=4", "-threads=2",
                           "-max-keys-per-get=5000", "-max-line-bytes=65536"}))
      << d.log();
  LoopbackClient a;
  LoopbackClient b;
  ASSERT_TRUE(a.connect_tcp("127.0.0.1", d.port()));
  ASSERT_TRUE(b.connect_tcp("127.0.0.1", d.port()));
  std::uint64_t last = 0;
  std::uint64_t total = 0;
  for (int round = 0; round < 20; ++round) {
    for (const std::uint64_t id : get_ids(round % 2 == 0 ? a : b, 5000)) {
      const id::IdParts p = id::decode(id);
      ASSERT_GE(p.worker_id, 6u);
      ASSERT_LE(p.worker_id, 9u);
      ASSERT_GT(id, last) << "round " << round;
      last = id;
      ++total;
    }
  }
  const auto stats = query_stats(a);
  EXPECT_EQ(stat_value(stats, "worker_id"), 6);
  EXPECT_EQ(stat_value(stats, "worker_id_count"), 4);
  EXPECT_EQ(stat_value(stats, "worker_ids_serving"), 4);
  std::int64_t per_id = 0;
  for (int w = 6; w <= 9; ++w) {
    const std::string prefix = "worker:" + std::to_string(w) + ":";
    ASSERT_TRUE(stats.count(prefix + "state")) << prefix;
    EXPECT_EQ(stats.at(prefix + "state"), "serving");
    per_id += stat_value(stats, prefix + "ids_issued");
  }
  EXPECT_EQ(per_id, stat_value(stats, "ids_issued"));
  EXPECT_EQ(static_cast<std::uint64_t>(per_id), total);
  EXPECT_EQ(stats.count("worker:10:state"), 0u);

  // HTTP on the main port: a connection of its own (the first bytes choose).
  LoopbackClient web;
  ASSERT_TRUE(web.connect_tcp("127.0.0.1", d.port()));
  const auto metrics = web.request("GET /metrics HTTP/1.1\r\nHost: k\r\n\r\n",
                                 "katsubushi_worker_state{worker_id=\"9\",state=\"serving\"} 1\n");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->find("# TYPE katsubushi_worker_ids_issued_total counter\n"
                          "katsubushi_worker_ids_issued_total{worker_id=\"6\"} "),
            std::string::npos)
      << *metrics;
  EXPECT_NE(metrics->find("katsubushi_worker_ids_held 4\n"), std::string::npos) << *metrics;
}

TEST(DaemonWorkerIds, TheStateFileCoversEveryHeldIdAcrossARestart) {
  TempDir dir;
  const std::string path = (dir.path() / "k.state").string();
  std::uint64_t last = 0;
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp({"-worker-id=3", "-worker-id-count=3", "-threads=1",
                             "-state-file=" + path}))
        << d.log();
    const auto record = state::read_state_file(path);
    ASSERT_TRUE(record);
    EXPECT_EQ(record->worker_id, 3u);
    EXPECT_EQ(record->worker_id_count, 3u);
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
    for (const std::uint64_t id : get_ids(c, 100)) last = std::max(last, id);
    const auto status = d.stop(SIGTERM);
    ASSERT_TRUE(status && status->clean()) << d.log();
  }
  const auto graceful = state::read_state_file(path);
  ASSERT_TRUE(graceful);
  EXPECT_TRUE(graceful->graceful);
  EXPECT_EQ(graceful->mark_ms, id::decode(last).timestamp_ms);
  {
    // One of the ids alone, on the same file: its ids stay above the mark.
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp({"-worker-id=5", "-threads=1", "-state-file=" + path})) << d.log();
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
    const auto ids = get_ids(c, 10);
    ASSERT_FALSE(ids.empty());
    EXPECT_GT(id::decode(ids.front()).timestamp_ms, graceful->mark_ms);
    EXPECT_EQ(id::decode(ids.front()).worker_id, 5u);
    ASSERT_TRUE(d.stop(SIGTERM));
  }
  // Worker ids none of which the file covers: another daemon's file.
  expect_refused({"-worker-id=6", "-worker-id-count=2", "-port=0", "-state-file=" + path}, 1,
                 "belongs to worker id 5, this daemon is worker ids 6..7");
}

TEST(DaemonWorkerIds, ARangePastTheLayoutIsAFlagError) {
  expect_refused({"-worker-id=1021", "-worker-id-count=4", "-port=0"}, 2,
                 "worker ids 1021..1024 pass the layout's highest, 1023");
}

}  // namespace
}  // namespace katsubushi::testing
