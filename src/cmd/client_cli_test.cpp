// katsubushi-client, the command line: ids one per line, and its exit
// statuses (0 ids, 1 no server answered with a reason per server, 2 bad
// usage, 3 -check found repeated ids).
#include <gtest/gtest.h>

#include <sstream>

#include "id/layout.hpp"
#include "testing/daemon_process.hpp"
#include "testing/scripted_memcached.hpp"

namespace katsubushi::testing {
namespace {

CommandResult run_client(const std::vector<std::string>& args) {
  return run_command(KATSUBUSHI_CLIENT_BIN, args);
}

std::vector<std::uint64_t> lines(const std::string& out) {
  std::vector<std::uint64_t> ids;
  std::istringstream in(out);
  std::uint64_t v = 0;
  while (in >> v) ids.push_back(v);
  return ids;
}

int exit_code(const CommandResult& r) { return r.status && r.status->exited ? r.status->code : -1; }

TEST(ClientCli, PrintsIdsOnePerLineAndChecksThem) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=71", "-threads=1"})) << daemon.log();
  const auto dead = free_tcp_port();
  const auto r = run_client(
      {"-servers",
       "127.0.0.1:" + std::to_string(dead) + ",binary://127.0.0.1:" + std::to_string(daemon.port()),
       "-n", "5", "-check", "-timeout=3s"});
  EXPECT_EQ(exit_code(r), 0) << r.err;
  const auto ids = lines(r.out);
  ASSERT_EQ(ids.size(), 5u) << r.out;
  for (const auto v : ids) EXPECT_EQ(id::decode(v).worker_id, 71u);
  EXPECT_EQ(r.out.back(), '\n');
}

TEST(ClientCli, SpeaksGrpcPastADeadGrpcServer) {
  DaemonProcess daemon;
  const auto grpc_port = free_tcp_port();
  ASSERT_TRUE(
      daemon.start_tcp({"-worker-id=72", "-threads=1", "-grpc-port=" + std::to_string(grpc_port)}))
      << daemon.log();
  const auto dead = free_tcp_port();
  const auto r = run_client({"-servers",
                             "grpc://127.0.0.1:" + std::to_string(dead) +
                                 ",grpc://127.0.0.1:" + std::to_string(grpc_port),
                             "-n", "5", "-check", "-timeout=3s"});
  EXPECT_EQ(exit_code(r), 0) << r.err;
  const auto ids = lines(r.out);
  ASSERT_EQ(ids.size(), 5u) << r.out;
  for (const auto v : ids) EXPECT_EQ(id::decode(v).worker_id, 72u);
}

TEST(ClientCli, ExitsOneWithEachServersReasonWhenNoneAnswers) {
  const auto p1 = std::to_string(free_tcp_port());
  const auto p2 = std::to_string(free_tcp_port());
  const auto r =
      run_client({"--servers=127.0.0.1:" + p1 + ",http://127.0.0.1:" + p2, "-timeout", "300ms"});
  EXPECT_EQ(exit_code(r), 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("memcached://127.0.0.1:" + p1 + ": connect failed"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("http://127.0.0.1:" + p2 + ": connect failed"), std::string::npos) << r.err;
}

TEST(ClientCli, ExitsTwoOnABadCommandLine) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"-servers", "redis://127.0.0.1:1"},
      {"-servers", "127.0.0.1:1", "-n", "0"},
      {"-servers", "127.0.0.1:1", "-timeout", "soon"},
      {"-servers", "127.0.0.1:1", "-bogus"},
  };
  for (const auto& args : bad) {
    const auto r = run_client(args);
    EXPECT_EQ(exit_code(r), 2) << (args.empty() ? "" : args.back()) << ": " << r.err;
    EXPECT_NE(r.err.find("katsubushi-client: "), std::string::npos);
  }
  EXPECT_EQ(exit_code(run_client({"-help"})), 0);
}

TEST(ClientCli, CheckExitsThreeOnIdsSeenTwice) {
  // A server that gives every request the same ids: each reply passes the
  // library's check, the second repeats the first.
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() -
                      id::kEpochUnixMs;
  ScriptedMemcached same([&](const std::vector<std::string>& keys) {
    std::vector<std::uint64_t> ids;
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
      ids.push_back(id::encode({.timestamp_ms = now_ms, .worker_id = 5, .sequence = i}));
    }
    return get_reply(keys, ids);
  });
  ASSERT_NE(same.port(), 0);
  const std::string server = "127.0.0.1:" + std::to_string(same.port());
  const auto r = run_client({"-servers", server, "-n", "1500", "-check"});
  EXPECT_EQ(exit_code(r), 3) << r.err;
  EXPECT_NE(r.err.find("twice"), std::string::npos) << r.err;
  // Without -check the same ids are printed and the status is 0.
  EXPECT_EQ(exit_code(run_client({"-servers", server, "-n", "1500"})), 0);
}

}  // namespace
}  // namespace katsubushi::testing
