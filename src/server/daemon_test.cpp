// The real katsubushi binary over loopback: ids, replies and protocol edges.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <ctime>

#include "id/layout.hpp"
#include "server/test_daemon.hpp"
#include "version.hpp"

namespace katsubushi::testing {
namespace {

constexpr std::uint32_t kWorkerId = 42;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.start_tcp({"-worker-id=" + std::to_string(kWorkerId), "-threads=2"}))
        << daemon_.log();
  }
  LoopbackClient connect() {
    LoopbackClient c;
    EXPECT_TRUE(c.connect_tcp("127.0.0.1", daemon_.port()));
    return c;
  }
  DaemonProcess daemon_;
};

TEST_F(DaemonTest, MultiKeyGetGivesIncreasingIdsOfItsWorker) {
  LoopbackClient c = connect();
  auto values = request_ids(c, "get a b c");
  ASSERT_TRUE(values);
  ASSERT_EQ(values->size(), 3u);
  const char* keys[] = {"a", "b", "c"};
  const auto now_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& v = (*values)[i];
    EXPECT_EQ(v.key, keys[i]);
    EXPECT_FALSE(v.cas) << "get must not carry a cas";
    const id::IdParts parts = id::decode(v.id);
    EXPECT_EQ(parts.worker_id, kWorkerId);
    // The timestamp is today's, not a fixed or zero value (an hour is slack, not timing).
    EXPECT_NEAR(static_cast<double>(parts.timestamp_ms + id::kEpochUnixMs),
                static_cast<double>(now_ms), 3600.0 * 1000);
    if (i > 0) {
      EXPECT_GT(v.id, (*values)[i - 1].id);
    }
  }

  auto with_cas = request_ids(c, "gets x y");
  ASSERT_TRUE(with_cas);
  ASSERT_EQ(with_cas->size(), 2u);
  std::uint64_t last = values->back().id;
  for (const auto& v : *with_cas) {
    ASSERT_TRUE(v.cas) << "gets must carry a cas";
    EXPECT_EQ(*v.cas, v.id);
    EXPECT_EQ(id::decode(v.id).worker_id, kWorkerId);
    EXPECT_GT(v.id, last);
    last = v.id;
  }
}

TEST_F(DaemonTest, IdsIncreaseAcrossConnections) {
  LoopbackClient a = connect();
  LoopbackClient b = connect();
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    auto values = request_ids(i % 2 == 0 ? a : b, "get k");
    ASSERT_TRUE(values);
    ASSERT_EQ(values->size(), 1u);
    EXPECT_GT((*values)[0].id, last);
    last = (*values)[0].id;
  }
}

TEST_F(DaemonTest, StorageCommandGetsOneErrorAndTheStreamStaysInSync) {
  LoopbackClient c = connect();
  auto reply = c.request("set k 0 0 5\r\nhello\r\n", "\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "ERROR\r\n");
  // A second ERROR (the data line taken for a command) would arrive before VALUE.
  auto values = request_ids(c, "get k");
  ASSERT_TRUE(values);
  ASSERT_EQ(values->size(), 1u);
  EXPECT_EQ((*values)[0].key, "k");

  // The same with the set and the get in one segment.
  ASSERT_TRUE(c.send_all("set k 0 0 5\r\nhello\r\nget k2\r\n"));
  auto both = c.recv_until("END\r\n");
  ASSERT_TRUE(both);
  ASSERT_TRUE(both->starts_with("ERROR\r\nVALUE k2 0 ")) << *both;
  std::vector<IdValue> parsed;
  std::size_t used = 0;
  ASSERT_EQ(parse_get_reply(std::string_view(*both).substr(7), parsed, used),
            ParseStatus::complete);
  EXPECT_EQ(used, both->size() - 7);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_GT(parsed[0].id, (*values)[0].id);
}

TEST_F(DaemonTest, VersionAndStatsDescribeThisDaemon) {
  LoopbackClient c = connect();
  auto version = c.request("version\r\n", "\r\n");
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, "VERSION " + std::string(kVersion) + "\r\n");
  ASSERT_TRUE(request_ids(c, "get a b"));
  const auto stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "pid"), daemon_.pid());
  EXPECT_EQ(stat_value(stats, "worker_id"), kWorkerId);
  EXPECT_EQ(stat_value(stats, "threads"), 2);
  EXPECT_EQ(stat_value(stats, "cmd_get"), 2);
  EXPECT_EQ(stat_value(stats, "get_hits"), 2);
  EXPECT_EQ(stat_value(stats, "ids_issued"), 2);
  EXPECT_EQ(stats.count(""), 0u) << stats.at("");
}

TEST_F(DaemonTest, HttpRequestGetsAnHttpAnswerAndTheDaemonKeepsServing) {
  LoopbackClient http = connect();
  ASSERT_TRUE(http.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto answer = http.read_until_closed();
  ASSERT_TRUE(answer) << "the connection was not closed";
  ASSERT_TRUE(answer->starts_with("HTTP/1.1 ")) << *answer;
  const std::string status_line = answer->substr(0, answer->find("\r\n"));
  // "HTTP/1.1 NNN Reason"
  ASSERT_GE(status_line.size(), 13u) << status_line;
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(status_line[9])) &&
              std::isdigit(static_cast<unsigned char>(status_line[10])) &&
              std::isdigit(static_cast<unsigned char>(status_line[11])) && status_line[12] == ' ')
      << status_line;

  EXPECT_TRUE(daemon_.running());
  LoopbackClient c = connect();
  auto values = request_ids(c, "get after_http");
  ASSERT_TRUE(values);
  EXPECT_EQ(values->size(), 1u);
}

TEST(DaemonIpv6, GetWorksOverIpv6Loopback) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback on this host";
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=6", "-threads=1"})) << daemon.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("::1", daemon.port())) << daemon.log();
  auto values = request_ids(c, "get v6");
  ASSERT_TRUE(values);
  ASSERT_EQ(values->size(), 1u);
  EXPECT_EQ(id::decode((*values)[0].id).worker_id, 6u);
}

}  // namespace
}  // namespace katsubushi::testing
