// katsubushi-bench against the daemon: its -check over every protocol it
// speaks, on a daemon holding four worker ids (what P15's figures are
// measured with), and its exit status when there is nothing to measure.
#include <gtest/gtest.h>

#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

CommandResult run_bench(const std::vector<std::string>& args) {
  return run_command(KATSUBUSHI_BENCH_BIN, args);
}

int exit_code(const CommandResult& r) { return r.status && r.status->exited ? r.status->code : -1; }

TEST(BenchCli, ChecksEveryProtocolOnADaemonHoldingFourWorkerIds) {
  DaemonProcess daemon;
  const auto grpc_port = free_tcp_port();
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=81", "-worker-id-count=4", "-threads=2",
                                "-grpc-port=" + std::to_string(grpc_port)}))
      << daemon.log();
  struct Case {
    const char* proto;
    std::uint16_t port;
    const char* depth;
  };
  // HTTP on the memcached port (the daemon tells them apart); gRPC at depth
  // 1 (one connection's ids in order) and 4 (calls answered in any order).
  const Case cases[] = {{"text", daemon.port(), "4"},   {"binary", daemon.port(), "4"},
                        {"http", daemon.port(), "4"},   {"grpc", grpc_port, "1"},
                        {"grpc", grpc_port, "4"}};
  for (const Case& c : cases) {
    const auto r = run_bench({"-port", std::to_string(c.port), "-proto", c.proto, "-conns", "3",
                              "-depth", c.depth, "-keys", "100", "-requests", "300", "-check"});
    EXPECT_EQ(exit_code(r), 0) << c.proto << " depth " << c.depth << ": " << r.err << r.out;
    // 300 requests of 100 ids, every one checked.
    EXPECT_NE(r.out.find("check         30000 ids: "), std::string::npos)
        << c.proto << " depth " << c.depth << ": " << r.out;
    EXPECT_NE(r.out.find("errors        0\n"), std::string::npos) << c.proto << ": " << r.out;
  }
}

TEST(BenchCli, GrpcWithNoServerExitsOneNamingIt) {
  const auto dead = free_tcp_port();
  const auto r = run_bench({"-port", std::to_string(dead), "-proto", "grpc", "-requests", "1"});
  EXPECT_EQ(exit_code(r), 1) << r.err << r.out;
  EXPECT_NE(r.err.find("gRPC connection to dns:///127.0.0.1:" + std::to_string(dead) + " failed"),
            std::string::npos)
      << r.err;
}

TEST(BenchCli, GrpcRefusesMoreKeysThanAFetchMultiTakes) {
  const auto r = run_bench({"-port", "1", "-proto", "grpc", "-keys", "1001"});
  EXPECT_EQ(exit_code(r), 2) << r.err;
  EXPECT_NE(r.err.find("at most 1000"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace katsubushi::testing
