// katsubushi's command line and environment, as seen from outside the process.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string_view>
#include <thread>

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

// Arguments as a test name shows them, bytes outside printable ASCII as \\xNN.
std::string printable(const std::vector<std::string>& args) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    for (const char ch : a) {
      const auto c = static_cast<unsigned char>(ch);
      if (c >= 0x20 && c < 0x7f) {
        out += ch;
      } else {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  }
  return out;
}

// The worker id a daemon on `port` puts into its ids.
std::uint32_t worker_of_served_id(std::uint16_t port) {
  LoopbackClient c;
  EXPECT_TRUE(c.connect_tcp("127.0.0.1", port));
  auto values = request_ids(c, "get w");
  EXPECT_TRUE(values && values->size() == 1);
  if (!values || values->size() != 1) return 0;
  return id::decode((*values)[0].id).worker_id;
}

std::uint32_t worker_of_served_id(DaemonProcess& daemon) {
  return worker_of_served_id(daemon.port());
}

// Starts the daemon with `args_for(port)` in full (start_tcp appends -port,
// which arguments after a non-flag would swallow) and waits until it answers
// there. Returns the port, or 0.
std::uint16_t start_with_own_args(
    DaemonProcess& daemon, const std::function<std::vector<std::string>(std::string)>& args_for) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::uint16_t port = free_tcp_port();
    if (port == 0 || !daemon.spawn(args_for(std::to_string(port)))) return 0;
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (daemon.running() && std::chrono::steady_clock::now() < deadline) {
      LoopbackClient probe;
      if (probe.connect_tcp("127.0.0.1", port)) {
        const auto reply = probe.request("version\r\n", "\r\n", 2s);
        if (reply && reply->starts_with("VERSION ")) return port;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (daemon.running()) return 0;  // up but not answering: no retry
  }
  return 0;
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
    for (const char* documented :
         {"-worker-id", "-port", "-sock", "-idle-timeout", "-max-connections"}) {
      EXPECT_NE(r.out.find(documented), std::string::npos) << flag << " lacks " << documented;
    }
  }
}

struct BadFlagCase {
  std::vector<std::string> args;
  std::string named;  // what stderr must mention
};

void PrintTo(const BadFlagCase& c, std::ostream* os) { *os << '[' << printable(c.args) << ']'; }

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
                      BadFlagCase{{"-worker-id=-1"}, "out of range"},
                      BadFlagCase{{"-worker-id=08"}, "-worker-id"},
                      BadFlagCase{{"-worker-id=0x400"}, "out of range"},
                      BadFlagCase{{"-worker-id=1", "-idle-timeout=abc"}, "-idle-timeout"},
                      BadFlagCase{{"-port=x", "-worker-id=1"}, "-port"},
                      BadFlagCase{{"-worker-id=1", "-max-connections=0"}, "-max-connections"},
                      BadFlagCase{{"-worker-id=1", "-no-such-flag"}, "-no-such-flag"},
                      BadFlagCase{{"-worker-id"}, "-worker-id"}, BadFlagCase{{}, "worker-id"},
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

// ---- Go's integer syntax and Go's end of flags ----

TEST(DaemonFlags, WorkerIdIsReadAsGoReadsIntegers) {
  // Go's flag package: a leading 0 is octal, 0x hex.
  DaemonProcess octal;
  ASSERT_TRUE(octal.start_tcp({"-threads=1", "-worker-id", "010"})) << octal.log();
  EXPECT_EQ(worker_of_served_id(octal), 8u);

  DaemonProcess hex;
  ASSERT_TRUE(hex.start_tcp({"-threads=1", "-worker-id=0x10"})) << hex.log();
  EXPECT_EQ(worker_of_served_id(hex), 16u);

  DaemonProcess from_env;
  ASSERT_TRUE(from_env.start_tcp({"-threads=1"}, {"WORKER_ID=0b1_1"})) << from_env.log();
  EXPECT_EQ(worker_of_served_id(from_env), 3u);
}

TEST(DaemonFlags, ArgumentsAfterTheFirstNonFlagAreIgnoredWithAWarning) {
  DaemonProcess daemon;
  const std::uint16_t port = start_with_own_args(daemon, [](const std::string& p) {
    return std::vector<std::string>{"-threads=1", "-worker-id=5", "-port=" + p,
                                    "extra",      "-worker-id=6", "-no-such-flag"};
  });
  ASSERT_NE(port, 0) << daemon.log();
  EXPECT_EQ(worker_of_served_id(port), 5u);
  const std::string log = daemon.log();
  EXPECT_NE(log.find("\"extra\" \"-worker-id=6\" \"-no-such-flag\""), std::string::npos) << log;
  EXPECT_NE(log.find(" warning "), std::string::npos) << log;
}

TEST(DaemonFlags, DoubleDashEndsTheFlags) {
  DaemonProcess daemon;
  const std::uint16_t port = start_with_own_args(daemon, [](const std::string& p) {
    return std::vector<std::string>{"-threads=1", "-worker-id=5", "-port=" + p, "--",
                                    "-worker-id=6"};
  });
  ASSERT_NE(port, 0) << daemon.log();
  EXPECT_EQ(worker_of_served_id(port), 5u);
  EXPECT_NE(daemon.log().find("\"-worker-id=6\""), std::string::npos) << daemon.log();
}

TEST(DaemonFlags, IgnoredArgumentsAreReportedWhenTheFlagsFail) {
  // The worker id sits after a stray argument, so it was never read: say so.
  const auto r = run_daemon({"stray", "-worker-id=5"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 2) << r.status->describe();
  EXPECT_NE(r.err.find("warning: ignoring the arguments after the flags: \"stray\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("-worker-id"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace katsubushi::testing
