// The client library against real katsubushi daemons on loopback: every
// protocol and socket kind, failover while a daemon is SIGKILLed and
// restarted, several threads, and servers that answer badly.
#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <thread>

#include "id/layout.hpp"
#include "katsubushi/client.hpp"
#include "testing/client_checks.hpp"
#include "testing/daemon_process.hpp"
#include "testing/scripted_memcached.hpp"

namespace katsubushi::testing {
namespace {

namespace kc = katsubushi::client;

std::string tcp(std::uint16_t port, const std::string& scheme = "") {
  return scheme + "127.0.0.1:" + std::to_string(port);
}

TEST(ClientDaemon, EveryProtocolAndSocketKindServesCheckedIds) {
  const std::uint16_t http_port = free_tcp_port();
  DaemonProcess daemon;
  ASSERT_TRUE(
      daemon.start_tcp({"-worker-id=61", "-threads=2", "-http-port=" + std::to_string(http_port)}))
      << daemon.log();
  TempDir dir;
  const auto sock = (dir.path() / "k.sock").string();
  DaemonProcess unix_daemon;
  ASSERT_TRUE(unix_daemon.start_unix(sock, {"-worker-id=62", "-threads=1"})) << unix_daemon.log();
  const std::pair<std::string, std::uint32_t> servers[] = {
      {tcp(daemon.port()), 61},
      {tcp(daemon.port(), "memcached://"), 61},
      {tcp(daemon.port(), "binary://"), 61},
      {tcp(http_port, "http://"), 61},
      {tcp(daemon.port(), "http://"), 61},  // HTTP sniffed on the memcached port
      {"unix:" + sock, 62},
      {"binary+unix:" + sock, 62},
      {"http+unix:" + sock, 62},
  };
  for (const auto& [server, worker] : servers) {
    SCOPED_TRACE(server);
    kc::Client client(server);
    expect_ids_of({client.fetch()}, 1, worker);
    expect_ids_of(client.fetch_multi(1500), 1500, worker);  // two requests: 1000 + 500
    expect_ids_of(client.fetch_multi(3), 3, worker);        // on a kept connection
  }
}

TEST(ClientDaemon, FailsOverWhileADaemonIsKilledAndGoesBackAfterItsRestart) {
  TempDir dir;
  const auto a_sock = (dir.path() / "a.sock").string();
  const auto b_sock = (dir.path() / "b.sock").string();
  DaemonProcess a;
  DaemonProcess b;
  ASSERT_TRUE(a.start_unix(a_sock, {"-worker-id=63", "-threads=1"})) << a.log();
  ASSERT_TRUE(b.start_unix(b_sock, {"-worker-id=64", "-threads=1"})) << b.log();
  kc::Options options;
  options.backoff_initial = std::chrono::milliseconds(20);
  options.backoff_max = std::chrono::milliseconds(100);
  kc::Client client("unix:" + a_sock + ",unix:" + b_sock, options);
  std::set<std::uint64_t> seen;
  EXPECT_EQ(fetch_worker(client, seen), 63u);  // the first in the list
  ASSERT_TRUE(a.stop(SIGKILL));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(fetch_worker(client, seen), 64u);
  ASSERT_TRUE(a.start_unix(a_sock, {"-worker-id=63", "-threads=1"})) << a.log();
  // Asked again once its backoff (at most 100 ms here) has run out.
  EXPECT_TRUE(fetch_until_worker(client, seen, 63u))
      << "the restarted first server was not asked again";
  EXPECT_GT(client.stats().server_failures, 0u);
}

TEST(ClientDaemon, ThreadsOverTwoDaemonsWhileOneIsKilledNeitherFailNorRepeat) {
  DaemonProcess a;
  DaemonProcess b;
  ASSERT_TRUE(a.start_tcp({"-worker-id=65", "-threads=2"})) << a.log();
  ASSERT_TRUE(b.start_tcp({"-worker-id=66", "-threads=2"})) << b.log();
  kc::Options options;
  options.prefetch = 32;
  kc::Client client(tcp(a.port()) + "," + tcp(b.port(), "binary://"), options);
  constexpr int kThreads = 4;
  constexpr int kEach = 1500;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = client.try_fetch(1 + static_cast<std::size_t>(i % 3));
        if (!r) {
          ++failures;
          continue;
        }
        auto& mine = got[static_cast<std::size_t>(t)];
        mine.insert(mine.end(), r.ids.begin(), r.ids.end());
        ++done;
      }
    });
  }
  while (done < kThreads * kEach / 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(a.stop(SIGKILL));
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  std::set<std::uint64_t> all;
  std::size_t total = 0;
  std::set<std::uint32_t> workers;
  for (const auto& ids : got) {
    total += ids.size();
    for (const auto v : ids) {
      all.insert(v);
      workers.insert(id::decode(v).worker_id);
    }
  }
  EXPECT_EQ(all.size(), total);  // no id twice
  EXPECT_EQ(workers, (std::set<std::uint32_t>{65, 66}));
}

TEST(ClientDaemon, AServerWhoseIdsFailTheCheckIsPassedOver) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=67", "-threads=1"})) << daemon.log();
  // Answers id 0, then ids an hour ahead of the clock.
  int round = 0;
  ScriptedMemcached bad([&](const std::vector<std::string>& keys) {
    const auto ahead_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          id::kEpochUnixMs + 3'600'000;
    const std::uint64_t id =
        round++ == 0 ? 0 : id::encode({.timestamp_ms = ahead_ms, .worker_id = 9, .sequence = 0});
    return get_reply(keys, std::vector<std::uint64_t>(keys.size(), id));
  });
  ASSERT_NE(bad.port(), 0);
  kc::Client client(tcp(bad.port()) + "," + tcp(daemon.port()));
  const auto got = client.try_fetch();
  ASSERT_TRUE(got) << got.message();
  EXPECT_EQ(id::decode(got.ids[0]).worker_id, 67u);
  EXPECT_EQ(bad.requests(), 2);  // two tries, then the next server
  EXPECT_EQ(client.stats().ids_refused, 2u);
}

TEST(ClientDaemon, NoServerAnsweringNamesEachOnesReason) {
  const auto p1 = free_tcp_port();
  const auto p2 = free_tcp_port();
  kc::Options options;
  options.deadline = std::chrono::milliseconds(300);
  kc::Client client(tcp(p1) + "," + tcp(p2, "http://"), options);
  const auto got = client.try_fetch();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error, kc::Errc::no_server_answered);
  ASSERT_EQ(got.failures.size(), 2u);
  EXPECT_EQ(got.failures[1].server, tcp(p2, "http://"));
  EXPECT_NE(got.failures[0].reason.find("connect failed"), std::string::npos)
      << got.failures[0].reason;
  EXPECT_THROW(client.fetch(), kc::Error);
}

}  // namespace
}  // namespace katsubushi::testing
