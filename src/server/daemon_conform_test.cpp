// The conformance cases (src/conform/cases) run by katsubushi-conform against
// the real katsubushi binary on loopback, one test per protocol. Each passes
// when the runner exits 0: no case failed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

// A failing case waits out the runner's timeout, so a run where many fail
// takes a while; the bound only keeps a hung run from hanging the test.
constexpr Millis kConformRunTimeout = 240s;
constexpr const char* kReplyTimeoutMs = "2000";

std::string conform_binary() { return KATSUBUSHI_CONFORM_BIN; }

std::string target(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// Runs the cases of `protocol` against `port` and expects none to fail.
void expect_conformance(const std::string& protocol, std::uint16_t port, const DaemonProcess& d) {
  const std::vector<std::string> args = {"--target", target(port), "--protocol",
                                         protocol,   "--timeout",  kReplyTimeoutMs};
  const CommandResult r = run_command(conform_binary(), args, {}, kConformRunTimeout);
  ASSERT_TRUE(r.status) << "katsubushi-conform did not finish; so far:\n" << r.out;
  EXPECT_TRUE(r.status->clean()) << r.status->describe() << "\n"
                                 << r.out << r.err << "\ndaemon log:\n"
                                 << d.log();
  EXPECT_NE(r.out.find("\nconform: "), std::string::npos) << r.out;
}

class DaemonConform : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"-worker-id=21", "-threads=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(daemon_.start_tcp(args)) << daemon_.log();
  }
  DaemonProcess daemon_;
};

TEST_F(DaemonConform, TextCasesPass) {
  start();
  expect_conformance("text", daemon_.port(), daemon_);
}

TEST_F(DaemonConform, MetaCasesPass) {
  start();
  expect_conformance("meta", daemon_.port(), daemon_);
}

TEST_F(DaemonConform, BinaryCasesPass) {
  start();
  expect_conformance("binary", daemon_.port(), daemon_);
}

// HTTP on the memcached port (sniffed from the request line) and on
// -http-port answer alike.
TEST_F(DaemonConform, HttpCasesPassOnTheMainPort) {
  start();
  expect_conformance("http", daemon_.port(), daemon_);
}

TEST_F(DaemonConform, HttpCasesPassOnTheHttpPort) {
  const std::uint16_t http_port = free_tcp_port();
  start({"-http-port=" + std::to_string(http_port)});
  expect_conformance("http", http_port, daemon_);
}

}  // namespace
}  // namespace katsubushi::testing
