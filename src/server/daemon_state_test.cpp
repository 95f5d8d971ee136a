// -state-file on the real daemon: a clean stop writes the exact last
// timestamp, a SIGKILL leaves a reservation that still covers every id, a
// restart with the clock set back waits (ids refused, everything else served)
// or refuses to start naming both times, and an unusable file is a start-up
// error. The wall clock is set back with libfaketime preloaded into the
// daemon itself (so signals reach the daemon, not a faketime parent).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "id/layout.hpp"
#include "id/timefmt.hpp"
#include "state/state_file.hpp"
#include "testing/daemon_process.hpp"
#include "testing/loopback_client.hpp"

namespace katsubushi::testing {
namespace {

std::uint64_t must_get(LoopbackClient& c) {
  const auto r = get_one_id(c);
  if (const auto* err = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "get answered " << *err;
    return 0;
  }
  return std::get<std::uint64_t>(r);
}

class DaemonState : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kSanitized) GTEST_SKIP() << "libfaketime is preloaded, which sanitizer runtimes refuse";
    if (faketime_env("+0").empty()) GTEST_SKIP() << "libfaketime is not installed";
    path_ = (dir_.path() / "katsubushi.state").string();
  }
  std::vector<std::string> args() const {
    return {"-worker-id=9", "-threads=1", "-state-file=" + path_};
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(DaemonState, AFreshStartIsLoggedAndTheFileWrittenBeforeTheFirstId) {
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp(args())) << d.log();
  EXPECT_NE(d.log().find("no state file at " + path_ + ": a fresh start"), std::string::npos)
      << d.log();
  const auto record = state::read_state_file(path_);
  ASSERT_TRUE(record);
  EXPECT_FALSE(record->graceful);
  EXPECT_EQ(record->worker_id, 9u);
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  const std::uint64_t id = must_get(c);
  // Every id is below the mark on disk (the writer may have moved it since).
  EXPECT_LT(id::decode(id).timestamp_ms, state::read_state_file(path_)->mark_ms);
  const auto stats = query_stats(c);
  EXPECT_GE(stat_value(stats, "state_writes"), 1);
  EXPECT_EQ(stat_value(stats, "state_write_failures"), 0);
  EXPECT_GT(stat_value(stats, "reserved_until_ms"), id::decode(id).timestamp_ms);
}

TEST_F(DaemonState, ACleanStopWritesTheLastTimestampAndARestartWaitsForNothing) {
  std::uint64_t last = 0;
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp(args())) << d.log();
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
    for (int i = 0; i < 5; ++i) last = std::max(last, must_get(c));
    const auto status = d.stop(SIGTERM);
    ASSERT_TRUE(status && status->clean()) << d.log();
  }
  const auto record = state::read_state_file(path_);
  ASSERT_TRUE(record);
  EXPECT_TRUE(record->graceful);
  EXPECT_EQ(record->mark_ms, id::decode(last).timestamp_ms);

  DaemonProcess again;
  ASSERT_TRUE(again.start_tcp(args())) << again.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", again.port()));
  EXPECT_GT(must_get(c), last);
  EXPECT_EQ(again.log().find("behind the mark"), std::string::npos) << again.log();
}

// The control: without -state-file a clock set back 4 s after a SIGKILL makes
// the daemon issue ids below the ones before. The tests below are the fix.
TEST_F(DaemonState, WithoutTheStateFileAClockSetBackRepeatsTimestamps) {
  std::uint64_t before = 0;
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp({"-worker-id=9", "-threads=1"})) << d.log();
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
    before = must_get(c);
    d.stop(SIGKILL);
  }
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-worker-id=9", "-threads=1"}, faketime_env("-4s"))) << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  EXPECT_LT(must_get(c), before) << "the faked clock did not take effect";
}

TEST_F(DaemonState, SigkillThenAClockSetBackWaitsServingStatsAndNeverGoesBack) {
  std::uint64_t before = 0;
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp(args())) << d.log();
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
    for (int i = 0; i < 100; ++i) before = std::max(before, must_get(c));
    d.stop(SIGKILL);
  }
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp(args(), faketime_env("-4s"))) << d.log();
  EXPECT_NE(d.log().find("behind the mark"), std::string::npos) << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  // While the clock catches up: ids refused with the reason, stats served.
  const auto first = get_one_id(c);
  ASSERT_TRUE(std::holds_alternative<std::string>(first))
      << "an id while the clock is 4 s behind the mark: " << std::get<std::uint64_t>(first);
  EXPECT_EQ(std::get<std::string>(first),
            "SERVER_ERROR clock has not yet passed the last reserved mark");
  const auto stats = query_stats(c);
  EXPECT_EQ(stat_value(stats, "clock_waits"), 1);
  // Then ids come, every one above those issued before the kill.
  std::uint64_t after = 0;
  for (int i = 0; i < 200 && after == 0; ++i) {
    const auto r = get_one_id(c);
    if (const auto* id = std::get_if<std::uint64_t>(&r)) after = *id;
    else std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(after, 0u) << "no id 10 s after a 4 s wait";
  EXPECT_GT(after, before);
}

TEST_F(DaemonState, AClockFurtherBehindThanTheWaitIsAStartUpErrorNamingBothTimes) {
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp(args())) << d.log();
    d.stop(SIGKILL);
  }
  const auto mark = state::read_state_file(path_)->mark_ms;
  DaemonProcess d;
  ASSERT_TRUE(d.spawn(args(), faketime_env("-30s")));
  const auto status = d.wait_exit();
  ASSERT_TRUE(status) << d.log();
  EXPECT_EQ(status->code, 1) << status->describe();
  const std::string log = d.log();
  EXPECT_NE(log.find("more than -max-clock-wait 10s"), std::string::npos) << log;
  const std::string mark_text = id::format_rfc3339_ms(mark + id::kEpochUnixMs);
  EXPECT_NE(log.find("behind the mark " + mark_text), std::string::npos) << log;
  EXPECT_NE(log.find("the clock reads "), std::string::npos) << log;
  // A longer wait lets it start.
  auto longer = args();
  longer.push_back("-max-clock-wait=1m");
  DaemonProcess patient;
  ASSERT_TRUE(patient.start_tcp(longer, faketime_env("-30s"))) << patient.log();
}

TEST_F(DaemonState, EveryTruncationOfTheFileIsAStartUpError) {
  const std::string whole =
      state::serialize({.worker_id = 9, .mark_ms = 1'000'000, .graceful = true, .worker_id_count = 1});
  for (std::size_t n = 0; n < whole.size(); ++n) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << whole.substr(0, n);
    const auto r = run_command(daemon_binary(), {"-worker-id=9", "-port=0", "-state-file=" + path_});
    ASSERT_TRUE(r.status) << "byte " << n << ": still running";
    EXPECT_EQ(r.status->code, 1) << "truncated at " << n << ": " << r.err;
    EXPECT_NE(r.err.find("state file " + path_), std::string::npos) << r.err;
  }
}

TEST_F(DaemonState, CorruptForeignOrUnreadableFilesAreStartUpErrors) {
  const std::string whole =
      state::serialize({.worker_id = 9, .mark_ms = 1'000'000, .graceful = true, .worker_id_count = 1});
  struct Case {
    std::string name;
    std::string bytes;
    std::string says;
  };
  std::string flipped = whole;
  flipped[30] = static_cast<char>(flipped[30] ^ 1);
  const std::vector<Case> cases = {
      {"a changed byte", flipped, "unusable"},
      {"another worker id",
       state::serialize({.worker_id = 8, .mark_ms = 1'000'000, .graceful = true, .worker_id_count = 1}),
       "belongs to worker id 8, this daemon is worker id 9"},
      {"not ours", "{\"last\": 1}\n", "not a katsubushi state file"},
  };
  for (const auto& c : cases) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << c.bytes;
    const auto r = run_command(daemon_binary(), {"-worker-id=9", "-port=0", "-state-file=" + path_});
    ASSERT_TRUE(r.status) << c.name;
    EXPECT_EQ(r.status->code, 1) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.name << ": " << r.err;
  }
  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);
  const auto r = run_command(daemon_binary(), {"-worker-id=9", "-port=0", "-state-file=" + path_});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("state file " + path_ + ": cannot read"), std::string::npos) << r.err;
}

TEST_F(DaemonState, AStateFileThatCannotBeWrittenIsAStartUpError) {
  const std::string missing = (dir_.path() / "no" / "such" / "k.state").string();
  const auto r = run_command(daemon_binary(), {"-worker-id=9", "-port=0", "-state-file=" + missing});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot create"), std::string::npos) << r.err;
}

// One daemon per state file (state/state_lock.hpp): no libfaketime needed.
class DaemonStateLock : public ::testing::Test {
 protected:
  std::vector<std::string> args() const {
    return {"-worker-id=9", "-threads=1", "-state-file=" + path_};
  }
  TempDir dir_;
  std::string path_ = (dir_.path() / "katsubushi.state").string();
};

TEST_F(DaemonStateLock, ASecondDaemonOnTheStateFileExitsOneNamingTheFileAndTheHolder) {
  DaemonProcess first;
  ASSERT_TRUE(first.start_tcp(args())) << first.log();
  const std::string holder = "pid " + std::to_string(first.pid());
  std::string in_lock_file;
  std::getline(std::ifstream(path_ + ".lock"), in_lock_file);
  EXPECT_EQ(in_lock_file, std::to_string(first.pid()));
  // Another worker id too: the lock is taken before the file is read, so
  // the refusal names the holder, not the file's worker id.
  for (const std::string worker : {"9", "8"}) {
    DaemonProcess second;
    ASSERT_TRUE(second.spawn({"-worker-id=" + worker, "-port=0", "-state-file=" + path_}));
    const auto status = second.wait_exit();
    ASSERT_TRUE(status) << "a second daemon on one state file kept running: " << second.log();
    EXPECT_EQ(status->code, 1) << status->describe() << "\n" << second.log();
    const std::string log = second.log();
    EXPECT_NE(log.find("state file " + path_ + ": in use by another katsubushi (" + holder),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(path_ + ".lock"), std::string::npos) << log;
  }
  // The first one serves on, its reservation untouched by the refused starts.
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", first.port()));
  must_get(c);
  EXPECT_EQ(state::read_state_file(path_)->worker_id, 9u);
}

TEST_F(DaemonStateLock, AfterASigkillTheLockFileLeftBehindDoesNotBlockTheNextStart) {
  pid_t killed = 0;
  std::uint64_t before = 0;
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start_tcp(args())) << d.log();
    killed = d.pid();
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
    before = must_get(c);
    d.stop(SIGKILL);
  }
  std::string left;
  std::getline(std::ifstream(path_ + ".lock"), left);
  EXPECT_EQ(left, std::to_string(killed)) << "the dead holder's pid stays in the file";
  DaemonProcess next;
  ASSERT_TRUE(next.start_tcp(args())) << next.log();
  std::string now;
  std::getline(std::ifstream(path_ + ".lock"), now);
  EXPECT_EQ(now, std::to_string(next.pid()));
  // It serves once the clock passes the killed one's reservation (about 2 s).
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", next.port()));
  std::uint64_t after = 0;
  for (int i = 0; i < 200 && after == 0; ++i) {
    const auto r = get_one_id(c);
    if (const auto* id = std::get_if<std::uint64_t>(&r)) after = *id;
    else std::this_thread::sleep_for(50ms);
  }
  EXPECT_GT(after, before);
}

}  // namespace
}  // namespace katsubushi::testing
