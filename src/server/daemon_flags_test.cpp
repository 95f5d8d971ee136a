// katsubushi's command line and environment, as seen from outside the process.
#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string_view>
#include <thread>

#include "id/layout.hpp"
#include "id/timefmt.hpp"
#include "testing/daemon_process.hpp"
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

// ---- a strict JSON checker: a log line must be one JSON object, UTF-8 ----

class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : s_(text) {}
  // Whether the whole text is exactly one JSON object.
  bool one_object() {
    space();
    if (peek() != '{' || !value()) return false;
    space();
    return i_ == s_.size();
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool value() {
    space();
    switch (peek()) {
      case '{':
        return container('}', true);
      case '[':
        return container(']', false);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool container(char close, bool object) {
    ++i_;
    space();
    if (peek() == close) {
      ++i_;
      return true;
    }
    for (;;) {
      space();
      if (object) {
        if (peek() != '"' || !string()) return false;
        space();
        if (peek() != ':') return false;
        ++i_;
      }
      if (!value()) return false;
      space();
      if (peek() == close) {
        ++i_;
        return true;
      }
      if (peek() != ',') return false;
      ++i_;
    }
  }
  bool number() {
    const std::size_t start = i_;
    if (peek() == '-') ++i_;
    auto digits = [&] {
      const std::size_t d = i_;
      while (peek() >= '0' && peek() <= '9') ++i_;
      return i_ > d;
    };
    if (!digits()) return false;
    if (peek() == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!digits()) return false;
    }
    return i_ > start;
  }
  bool string() {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++i_;
        const char e = peek();
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            const char h = i_ + static_cast<std::size_t>(k) < s_.size()
                               ? s_[i_ + static_cast<std::size_t>(k)]
                               : '\0';
            if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
          }
          i_ += 5;
        } else if (std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos && e != '\0') {
          ++i_;
        } else {
          return false;
        }
        continue;
      }
      const std::size_t n = utf8_length(c);
      if (n == 0 || !utf8_tail_ok(c, n)) return false;
      i_ += n;
    }
    return false;
  }
  static std::size_t utf8_length(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c >= 0xe0 && c <= 0xef) return 3;
    if (c >= 0xf0 && c <= 0xf4) return 4;
    return 0;
  }
  bool utf8_tail_ok(unsigned char c, std::size_t n) const {
    if (i_ + n > s_.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s_[i_ + k]);
      unsigned lo = 0x80;
      unsigned hi = 0xbf;
      if (k == 1 && c == 0xe0) lo = 0xa0;  // overlong
      if (k == 1 && c == 0xed) hi = 0x9f;  // surrogates
      if (k == 1 && c == 0xf0) lo = 0x90;  // overlong
      if (k == 1 && c == 0xf4) hi = 0x8f;  // past U+10FFFF
      if (b < lo || b > hi) return false;
    }
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every line of `log` is one strict JSON object; returns how many there are.
std::size_t expect_json_lines(const std::string& log) {
  const auto lines = lines_of(log);
  for (const auto& line : lines)
    EXPECT_TRUE(JsonChecker(line).one_object()) << "not JSON: " << line;
  EXPECT_TRUE(log.empty() || log.back() == '\n') << log;
  return lines.size();
}

TEST(JsonCheckerTest, AcceptsJsonAndRefusesTheRest) {
  EXPECT_TRUE(JsonChecker(R"({"a":"b\u00e9\"","n":-1.5e3,"l":[true,false,null,{}]})").one_object());
  EXPECT_TRUE(JsonChecker("{\"msg\":\"caf\xc3\xa9 \xf0\x9f\x8d\xa3\"}").one_object());
  for (const char* bad : {"", "{", "{}x", "[]", R"({"a":})", R"({"a":"\x"})", R"({"a":"\u12"})",
                          "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}",
                          "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\x01\"}", R"({"a":01x})"}) {
    EXPECT_FALSE(JsonChecker(bad).one_object()) << bad;
  }
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
                      BadFlagCase{{"-redis=redis://127.0.0.1:1", "-lease-ttl=1s"}, "-lease-ttl"},
                      BadFlagCase{{"-worker-id=1", "-max-clock-wait=soon"}, "-max-clock-wait"},
                      BadFlagCase{{"-worker-id=1", "-spin-wait=2ms"},
                                  "flag -spin-wait: want at most 1ms"},
                      BadFlagCase{{"-redis=redis://127.0.0.1:1", "-min-worker-id=9",
                                   "-max-worker-id=8"},
                                  "-min-worker-id"},
                      BadFlagCase{{"-worker-id=1", "-http-port=70000"}, "-http-port"},
                      BadFlagCase{{"-redis=redis://127.0.0.1:1?ns="}, "-redis: an empty namespace"},
                      BadFlagCase{{"-redis=rediscluster://127.0.0.1:1,127.0.0.1:2?ns"},
                                  "-redis: an empty namespace"}));

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

// ---- JSON logs stay JSON ----

struct JsonBadFlagCase {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string named;  // what the error message must mention
};

void PrintTo(const JsonBadFlagCase& c, std::ostream* os) {
  *os << '[' << printable(c.args) << "] env [" << printable(c.env) << ']';
}

class DaemonJsonBadFlag : public ::testing::TestWithParam<JsonBadFlagCase> {};

TEST_P(DaemonJsonBadFlag, IsOneJsonErrorLineAndExitsTwo) {
  const auto r = run_daemon(GetParam().args, GetParam().env);
  ASSERT_TRUE(r.status) << "still running after " << kFlagRunTimeout.count() << " ms";
  EXPECT_TRUE(r.status->exited) << r.status->describe();
  EXPECT_EQ(r.status->code, 2) << r.err;
  EXPECT_GE(expect_json_lines(r.err), 1u) << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find(R"("level":"error")"), std::string::npos) << r.err;
  EXPECT_NE(lines.back().find(GetParam().named), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Values, DaemonJsonBadFlag,
    ::testing::Values(
        JsonBadFlagCase{{"-log-format=json", "-worker-id=abc"}, {}, "-worker-id"},
        JsonBadFlagCase{{"-worker-id=abc", "--log-format", "json"}, {}, "-worker-id"},
        JsonBadFlagCase{{"-worker-id=abc"}, {"LOG_FORMAT=json"}, "-worker-id"},
        JsonBadFlagCase{{"-worker-id=1", "-no-such-flag"}, {"log_format=json"}, "-no-such-flag"},
        JsonBadFlagCase{{"-log-format=json"}, {}, "worker-id"},
        // Bytes that are not UTF-8 in the offending value.
        JsonBadFlagCase{{"-log-format=json", "-worker-id=\xff\xfe"}, {}, "\\ufffd\\ufffd"},
        JsonBadFlagCase{{"-log-format=json", "-log-level=\xc3("}, {}, "-log-level"},
        // A warning about ignored arguments, then the error: both JSON.
        JsonBadFlagCase{{"-log-format=json", "stray\x80", "-worker-id=1"}, {}, "-worker-id"}));

TEST(DaemonFlags, BadFlagIsPlainTextWithoutJsonLogs) {
  const auto r = run_daemon({"-worker-id=abc"}, {"LOG_FORMAT=text"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 2);
  EXPECT_TRUE(r.err.starts_with("katsubushi: invalid value \"abc\" for flag -worker-id")) << r.err;
}

TEST(DaemonFlags, NonUtf8SocketPathKeepsJsonLogsValid) {
  TempDir dir;
  const std::string path = (dir.path() / "k\xff\xfe\xc3.sock").string();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_unix(path, {"-worker-id=1", "-threads=1", "-log-format=json"}))
      << daemon.log();
  const auto status = daemon.stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << status->describe();
  const std::string log = daemon.log();
  EXPECT_GE(expect_json_lines(log), 2u) << log;
  // The path is logged, its bad bytes replaced.
  EXPECT_NE(log.find("k\\ufffd\\ufffd\\ufffd.sock"), std::string::npos) << log;
}

// ---- a wall clock outside the id layout's range ----

// Runs the daemon under faketime(1) with its wall clock starting at `start`;
// the monotonic clock stays real (past 2262 a faked one would overflow the
// daemon's timers, which is not what these tests are about).
void fake_wall_clock(DaemonProcess& daemon, const std::string& start) {
  daemon.set_launch_options(
      {.wrapper = {"faketime", "--exclude-monotonic", start}, .fd_limit = std::nullopt});
}

struct FakeClockCase {
  std::string start;        // the wall clock at start, for libfaketime
  std::string clock_reads;  // how the startup error names it
  std::string reply;        // what a get answers
};

void PrintTo(const FakeClockCase& c, std::ostream* os) { *os << c.start; }

class DaemonFakeClock : public ::testing::TestWithParam<FakeClockCase> {};

TEST_P(DaemonFakeClock, WarnsAtStartAndAnswersServerError) {
  if (kSanitized) GTEST_SKIP() << "faketime preloads a library, which sanitizer runtimes refuse";
  DaemonProcess daemon;
  fake_wall_clock(daemon, GetParam().start);
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=1", "-threads=1"})) << daemon.log();

  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
  EXPECT_EQ(c.request("get a\r\n", "\r\n"), GetParam().reply);
  // The connection stays usable.
  EXPECT_EQ(c.request("get b\r\n", "\r\n"), GetParam().reply);

  const std::string log = daemon.log();
  const auto at = log.find(" error the clock reads " + GetParam().clock_reads);
  ASSERT_NE(at, std::string::npos) << log;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find("ids can only be made up to 2084-09-06T15:47:35.551Z"), std::string::npos)
      << line;
  EXPECT_NE(line.find("every get will answer SERVER_ERROR"), std::string::npos) << line;
  // Said before the daemon reports itself up.
  EXPECT_LT(at, log.find("katsubushi " + std::string(kVersion) + " worker id")) << log;
}

INSTANTIATE_TEST_SUITE_P(
    Years, DaemonFakeClock,
    ::testing::Values(
        // Past the 41-bit millisecond range.
        FakeClockCase{"2090-01-01 00:00:00", "2090-01-01T00:00:0",
                      "SERVER_ERROR clock is beyond the id timestamp range\r\n"},
        // Past 2262, where int64 nanoseconds since 1970 overflow.
        FakeClockCase{"2300-01-01 00:00:00", "2300-01-01T00:00:0",
                      "SERVER_ERROR clock is beyond the id timestamp range\r\n"}),
    [](const auto& test) { return "Year" + test.param.start.substr(0, 4); });

TEST(DaemonFakeClockControl, NoWarningInsideTheRange) {
  if (kSanitized) GTEST_SKIP() << "faketime preloads a library, which sanitizer runtimes refuse";
  DaemonProcess daemon;
  fake_wall_clock(daemon, "2080-06-01 00:00:00");
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=1", "-threads=1"})) << daemon.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
  const auto values = request_ids(c, "get a");
  ASSERT_TRUE(values && values->size() == 1) << daemon.log();
  // The id carries the faked time, so the fake clock is in effect.
  const auto parts = id::decode((*values)[0].id);
  EXPECT_EQ(id::format_rfc3339_ms(parts.timestamp_ms + id::kEpochUnixMs).substr(0, 10),
            "2080-06-01");
  EXPECT_EQ(daemon.log().find("the clock reads"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace katsubushi::testing
