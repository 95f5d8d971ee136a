// The real katsubushi binary over loopback: ids, replies and protocol edges.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>

#include "id/layout.hpp"
#include "testing/daemon_fixture.hpp"
#include "testing/daemon_process.hpp"
#include "version.hpp"

namespace katsubushi::testing {
namespace {

constexpr std::uint32_t kWorkerId = 42;

using DaemonTest = DaemonFixture<kWorkerId>;

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
  ASSERT_TRUE(http.send_all("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
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

// Another process holds the port on IPv6 only. Falling back to IPv4 would
// send every ::1 client to that process: the daemon must refuse to start.
TEST(DaemonListen, APortHeldOnIpv6OnlyIsAStartUpError) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback on this host";
  const int holder = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  const int on = 1;
  ASSERT_EQ(::setsockopt(holder, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on), 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 8), 0);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin6_port);

  const auto r = run_command(daemon_binary(), {"-worker-id=7", "-port=" + std::to_string(port)},
                             {}, 10s);
  ::close(holder);
  ASSERT_TRUE(r.status) << "it started on half the address families\n" << r.err;
  EXPECT_TRUE(r.status->exited && r.status->code == 1) << r.status->describe() << "\n" << r.err;
  EXPECT_NE(r.err.find("-port " + std::to_string(port)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
}

// The operator reads the system's words, not a library's source location.
TEST(DaemonListen, BindErrorsAreNamedPlainly) {
  DaemonProcess first;
  ASSERT_TRUE(first.start_tcp({"-worker-id=8", "-threads=1"})) << first.log();
  const auto r = run_command(daemon_binary(),
                             {"-worker-id=9", "-port=" + std::to_string(first.port())}, {}, 10s);
  ASSERT_TRUE(r.status) << r.err;
  EXPECT_TRUE(r.status->exited && r.status->code == 1) << r.status->describe();
  EXPECT_NE(r.err.find("-port " + std::to_string(first.port()) + " (IPv4 and IPv6): Address already in use"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(".hpp"), std::string::npos) << r.err;

  TempDir dir;
  const std::string sock = (dir.path() / "missing-dir" / "k.sock").string();
  const auto u = run_command(daemon_binary(), {"-worker-id=9", "-sock=" + sock}, {}, 10s);
  ASSERT_TRUE(u.status) << u.err;
  EXPECT_TRUE(u.status->exited && u.status->code == 1) << u.status->describe();
  EXPECT_NE(u.err.find("-sock " + sock + ": No such file or directory"), std::string::npos)
      << u.err;
  EXPECT_EQ(u.err.find(".hpp"), std::string::npos) << u.err;
}

// As go-katsubushi does: a client that half-closes after a last line without
// its "\n" gets that line answered too, then the close.
TEST_F(DaemonTest, ALastLineCutShortByAHalfCloseIsAnswered) {
  LoopbackClient c = connect();
  ASSERT_TRUE(c.send_all("get a\r\nget b"));
  c.shutdown_write();
  const auto rest = c.read_until_closed();
  ASSERT_TRUE(rest) << "the connection was not closed after the half-close";
  std::vector<IdValue> first, second;
  std::size_t used = 0;
  ASSERT_EQ(parse_get_reply(*rest, first, used), ParseStatus::complete) << *rest;
  const std::string tail = rest->substr(used);
  ASSERT_EQ(parse_get_reply(tail, second, used), ParseStatus::complete) << *rest;
  EXPECT_EQ(used, tail.size()) << *rest;
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].key, "b");
  EXPECT_GT(second[0].id, first[0].id);
}

// `stats reset` zeroes the server's totals as memcached does; what is open now stays.
TEST_F(DaemonTest, StatsResetZeroesServerTotalsNotGauges) {
  LoopbackClient c = connect();
  LoopbackClient other = connect();
  ASSERT_TRUE(request_ids(other, "get x"));
  auto stats = query_stats(c);
  ASSERT_GE(stat_value(stats, "total_connections"), 2);
  auto reset = c.request("stats reset\r\n", "\r\n");
  ASSERT_TRUE(reset);
  EXPECT_EQ(*reset, "RESET\r\n");
  stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "total_connections"), 0);
  EXPECT_GE(stat_value(stats, "curr_connections"), 2);  // the start-up probe may linger
  EXPECT_GE(stat_value(stats, "live_sessions"), 2);
  EXPECT_EQ(stat_value(stats, "ids_issued"), 1);
}

TEST_F(DaemonTest, StatsGroupNamesAreCaseInsensitive) {
  LoopbackClient c = connect();
  auto lower = c.request("stats settings\r\n", "END\r\n");
  auto upper = c.request("stats SETTINGS\r\n", "END\r\n");
  ASSERT_TRUE(lower && upper);
  EXPECT_NE(lower->find("STAT maxconns "), std::string::npos) << *lower;
  EXPECT_EQ(*upper, *lower);
}

// A generator that cannot issue is counted, and so is each key it left unserved.
TEST(DaemonStats, GeneratorErrorsAreCounted) {
  DaemonProcess daemon;
  daemon.set_launch_options(
      {.wrapper = {"faketime", "2090-01-01 00:00:00"}, .fd_limit = std::nullopt});
  // libfaketime is preloaded ahead of the AddressSanitizer runtime.
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=10", "-threads=1"},
                               {with_sanitizer_option("ASAN_OPTIONS", "verify_asan_link_order=0")}))
      << daemon.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
  auto reply = c.request("get a b\r\n", "\r\n");
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->starts_with("SERVER_ERROR ")) << *reply;
  const auto stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "generator_errors"), 1);
  EXPECT_EQ(stat_value(stats, "get_misses"), 2);
  EXPECT_EQ(stat_value(stats, "accept_errors"), 0);
}

}  // namespace
}  // namespace katsubushi::testing
