// katsubushi's command line and environment, as seen from outside the process.
#include <gtest/gtest.h>

#include "id/layout.hpp"
#include "server/test_daemon.hpp"
#include "version.hpp"

namespace katsubushi::testing {
namespace {

// A daemon that wrongly starts anyway must not take the default port 11212,
// and is killed by run_command's bound.
constexpr Millis kFlagRunTimeout = 10s;

CommandResult run_daemon(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.push_back("-port=" + std::to_string(free_tcp_port()));
  return run_command(daemon_binary(), args, env, kFlagRunTimeout);
}

// The worker id a running daemon puts into its ids.
std::uint32_t worker_of_served_id(DaemonProcess& daemon) {
  LoopbackClient c;
  EXPECT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
  auto values = request_ids(c, "get w");
  EXPECT_TRUE(values && values->size() == 1);
  if (!values || values->size() != 1) return 0;
  return id::decode((*values)[0].id).worker_id;
}

TEST(DaemonFlags, VersionPrintsTheVersionAndExitsZero) {
  const auto r = run_command(daemon_binary(), {"-version"});
  ASSERT_TRUE(r.status);
  EXPECT_TRUE(r.status->clean()) << r.status->describe() << r.err;
  EXPECT_EQ(r.out, "katsubushi version: " + std::string(kVersion) + "\n");
}

TEST(DaemonFlags, HelpPrintsUsageAndExitsZero) {
  for (const char* flag : {"-help", "--help", "-h"}) {
    const auto r = run_command(daemon_binary(), {flag});
    ASSERT_TRUE(r.status) << flag;
    EXPECT_TRUE(r.status->clean()) << flag << ": " << r.status->describe() << r.err;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << flag << ": " << r.out;
    for (const char* documented : {"-worker-id", "-port", "-sock", "-idle-timeout",
                                   "-max-connections"}) {
      EXPECT_NE(r.out.find(documented), std::string::npos) << flag << " lacks " << documented;
    }
  }
}

struct BadFlagCase {
  std::vector<std::string> args;
  std::string named;  // what stderr must mention
};

class DaemonBadFlag : public ::testing::TestWithParam<BadFlagCase> {};

TEST_P(DaemonBadFlag, ExitsTwoNamingTheProblem) {
  const auto r = run_daemon(GetParam().args);
  ASSERT_TRUE(r.status) << "still running after " << kFlagRunTimeout.count() << " ms";
  EXPECT_TRUE(r.status->exited) << r.status->describe();
  EXPECT_EQ(r.status->code, 2) << r.err;
  EXPECT_NE(r.err.find(GetParam().named), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Values, DaemonBadFlag,
    ::testing::Values(BadFlagCase{{"-worker-id=1024"}, "-worker-id"},
                      BadFlagCase{{"-worker-id=0x10"}, "-worker-id"},
                      BadFlagCase{{"-worker-id=1", "-idle-timeout=abc"}, "-idle-timeout"},
                      BadFlagCase{{"-port=x", "-worker-id=1"}, "-port"},
                      BadFlagCase{{"-worker-id=1", "-max-connections=0"}, "-max-connections"},
                      BadFlagCase{{"-worker-id=1", "-no-such-flag"}, "-no-such-flag"},
                      BadFlagCase{{"-worker-id"}, "-worker-id"},
                      BadFlagCase{{}, "worker-id"},
                      BadFlagCase{{"-threads=1"}, "worker-id"},
                      BadFlagCase{{"-worker-id=1", "-redis=redis://127.0.0.1:1"},
                                  "not yet supported"},
                      BadFlagCase{{"-redis=redis://127.0.0.1:1"}, "-redis"},
                      BadFlagCase{{"-worker-id=1", "-http-port=8080"}, "not yet supported"}));

TEST(DaemonFlags, BadWorkerIdFromTheEnvironmentNamesTheVariable) {
  const auto r = run_daemon({}, {"WORKER_ID=5000"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 2) << r.status->describe();
  EXPECT_NE(r.err.find("WORKER_ID"), std::string::npos) << r.err;
}

TEST(DaemonFlags, UpperCaseWorkerIdEnvironmentSetsTheWorkerId) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-threads=1"}, {"WORKER_ID=7"})) << daemon.log();
  EXPECT_EQ(worker_of_served_id(daemon), 7u);
}

TEST(DaemonFlags, LowerCaseWorkerIdEnvironmentSetsTheWorkerId) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-threads=1"}, {"worker_id=9"})) << daemon.log();
  EXPECT_EQ(worker_of_served_id(daemon), 9u);
}

TEST(DaemonFlags, CommandLineWinsOverTheEnvironment) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-threads=1", "-worker-id=8"}, {"WORKER_ID=7"})) << daemon.log();
  EXPECT_EQ(worker_of_served_id(daemon), 8u);
}

TEST(DaemonFlags, TwoDashesAndASpaceSeparatedValueWork) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"--worker-id", "3", "--threads", "1"})) << daemon.log();
  EXPECT_EQ(worker_of_served_id(daemon), 3u);
}

TEST(DaemonFlags, IgnoredGoKatsubushiFlagsStartWithAWarning) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=4", "-threads=1", "-enable-pprof"})) << daemon.log();
  EXPECT_EQ(worker_of_served_id(daemon), 4u);
  EXPECT_NE(daemon.log().find("enable-pprof"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace katsubushi::testing
