#include "state/state_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "id/layout.hpp"
#include "id/timefmt.hpp"

namespace katsubushi::state {
namespace {

namespace fs = std::filesystem;

// A directory of its own under TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string templ = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                        "/katsubushi-state-test-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp " + templ);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    // A test may have taken permissions away; give them back to remove it all.
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    for (const auto& entry : fs::directory_iterator(path_, ec)) {
      fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void put(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// parse()'s message, or nullopt when it accepted the bytes.
std::optional<std::string> refusal(std::string_view bytes) {
  try {
    parse(bytes);
  } catch (const StateFileError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// read_state_file()'s message, or nullopt when it returned.
std::optional<std::string> read_refusal(const std::string& path) {
  try {
    read_state_file(path);
  } catch (const StateFileError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::optional<std::string> write_refusal(const std::string& path, const StateRecord& r) {
  try {
    write_state_file(path, r);
  } catch (const StateFileError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// `body` closed with its own correct checksum line: what a file with this
// content would be if katsubushi had written it, so the checks behind the
// checksum are reached.
std::string with_checksum(const std::string& body) {
  std::array<char, 9> hex{};
  std::snprintf(hex.data(), hex.size(), "%08x", crc32c(body));
  return body + "crc32c " + hex.data() + "\n";
}

bool contains(const std::optional<std::string>& message, std::string_view part) {
  return message && message->find(part) != std::string::npos;
}

const StateRecord kRecord{.worker_id = 5, .mark_ms = 315'532'800'000, .graceful = false, .worker_id_count = 1};
const StateRecord kLast{.worker_id = 1023, .mark_ms = id::kMaxTimestamp, .graceful = true, .worker_id_count = 1};
const StateRecord kFirst{.worker_id = 1, .mark_ms = 0, .graceful = false, .worker_id_count = 1};

// The bytes (and checksums) below were worked out apart from this code, by
// a separate CRC-32C that gives e3069283 for "123456789".
TEST(StateFileFormat, IsTheTextAnOperatorReads) {
  EXPECT_EQ(serialize(kRecord),
            "katsubushi-state 1\n"
            "worker_id 5\n"
            "mark_ms 315532800000\n"
            "mark 2024-12-31T00:00:00.000Z\n"
            "kind reservation\n"
            "crc32c 90aab44f\n");
  EXPECT_EQ(serialize(kLast),
            "katsubushi-state 1\n"
            "worker_id 1023\n"
            "mark_ms 2199023255551\n"
            "mark 2084-09-06T15:47:35.551Z\n"
            "kind graceful\n"
            "crc32c fd7bffc0\n");
  EXPECT_EQ(serialize(kFirst),
            "katsubushi-state 1\n"
            "worker_id 1\n"
            "mark_ms 0\n"
            "mark 2015-01-01T00:00:00.000Z\n"
            "kind reservation\n"
            "crc32c 74b1da6a\n");
}

TEST(StateFileFormat, Crc32cIsCastagnoli) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(StateFileFormat, RoundTripsAtTheExtremes) {
  // Worker 0 too: a leased daemon writes its reservation before its first lease.
  for (const std::uint32_t worker : {0u, 1u, 512u, 1023u}) {
    for (const std::int64_t mark : {std::int64_t{0}, std::int64_t{1}, std::int64_t{999},
                                    std::int64_t{1000}, id::kMaxTimestamp - 1, id::kMaxTimestamp}) {
      for (const bool graceful : {false, true}) {
        const StateRecord r{.worker_id = worker, .mark_ms = mark, .graceful = graceful, .worker_id_count = 1};
        const std::string bytes = serialize(r);
        EXPECT_EQ(parse(bytes), r) << bytes;
        EXPECT_NE(bytes.find("\nmark " + id::format_rfc3339_ms(mark + id::kEpochUnixMs) + "\n"),
                  std::string::npos)
            << bytes;
      }
    }
  }
}

TEST(StateFileFormat, SerializeRefusesWhatNoFileCanHold) {
  EXPECT_THROW(serialize({.worker_id = 1024, .mark_ms = 0, .graceful = false, .worker_id_count = 1}), StateFileError);
  EXPECT_THROW(serialize({.worker_id = 1, .mark_ms = -1, .graceful = false, .worker_id_count = 1}), StateFileError);
  EXPECT_THROW(serialize({.worker_id = 1, .mark_ms = id::kMaxTimestamp + 1, .graceful = true, .worker_id_count = 1}),
               StateFileError);
}

TEST(StateFileFormat, EveryTruncationIsRefusedAsTruncated) {
  for (const StateRecord& r : {kRecord, kLast, kFirst}) {
    const std::string bytes = serialize(r);
    EXPECT_FALSE(refusal(bytes));
    EXPECT_TRUE(contains(refusal(""), "empty"));
    for (std::size_t n = 1; n < bytes.size(); ++n) {
      const auto why = refusal(bytes.substr(0, n));
      EXPECT_TRUE(contains(why, "truncated"))
          << "the first " << n << " bytes: " << why.value_or("accepted");
    }
  }
}

TEST(StateFileFormat, EverySingleByteChangeIsRefused) {
  for (const StateRecord& r : {kRecord, kLast, kFirst}) {
    const std::string bytes = serialize(r);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      // Every other value of every byte.
      for (int v = 0; v < 256; ++v) {
        const char c = static_cast<char>(v);
        if (bytes[i] == c) continue;
        std::string changed = bytes;
        changed[i] = c;
        EXPECT_TRUE(refusal(changed)) << "byte " << i << " set to " << v << ":\n" << changed;
      }
      std::string without = bytes;
      without.erase(i, 1);
      EXPECT_TRUE(refusal(without)) << "byte " << i << " deleted";
      for (const char c : {'0', ' ', '\n', 'x'}) {
        std::string with = bytes;
        with.insert(i, 1, c);
        EXPECT_TRUE(refusal(with)) << "'" << c << "' inserted at " << i;
      }
    }
  }
}

TEST(StateFileFormat, BytesAfterTheEndAreRefused) {
  const std::string bytes = serialize(kRecord);
  for (const std::string& extra :
       std::vector<std::string>{"\n", " ", std::string(1, '\0'), "x", "\r\n"}) {
    EXPECT_TRUE(contains(refusal(bytes + extra), "after the checksum line")) << extra;
  }
  EXPECT_TRUE(contains(refusal(bytes + bytes), "after the checksum line"));
}

TEST(StateFileFormat, MessagesSayWhatIsWrong) {
  const std::string good = serialize(kRecord);
  const auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = good.substr(0, good.find("crc32c "));
    const std::size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return s;
  };
  struct Case {
    std::string bytes;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"katsubushi-state 1", "truncated"},
      {"katsubushi-state 2\nworker_id 5\n", "unknown version \"katsubushi-state 2\""},
      {"katsubushi-state 10\n", "unknown version"},
      {"{\"worker_id\": 5}\n", "not a katsubushi state file"},
      {"KATSUBUSHI-STATE 1\n", "not a katsubushi state file"},
      {replaced("315532800000", "315532800001") + good.substr(good.find("crc32c ")),
       "bad checksum"},
      {good.substr(0, good.size() - 9) + "90AAB44F\n", "bad checksum"},
      {replaced("worker_id 5\nmark_ms", "mark_ms"), "expected the line \"worker_id"},
      {replaced("kind", "kinds"),
       "expected the line \"kind ...\" at byte 82, found \"kinds reservation\""},
      {replaced("\n", "\r\n"), "unknown version \"katsubushi-state 1\\r\""},
      {replaced("5\n", "5\r\n") + good.substr(good.find("crc32c ")), "bad checksum"},
      {with_checksum(replaced("5\n", "5\r\n")), "bad worker_id \"5\\r\": not a decimal"},
      {with_checksum(replaced("kind reservation", "kind \x01\xff")), "bad kind \"\\x01\\xff\""},
      // A correct checksum over a body katsubushi never writes:
      {with_checksum(replaced("worker_id 5", "worker_id 05")), "bad worker_id \"05\": a leading"},
      {with_checksum(replaced("worker_id 5", "worker_id +5")),
       "bad worker_id \"+5\": not a decimal"},
      {with_checksum(replaced("worker_id 5", "worker_id  5")), "not a decimal"},
      {with_checksum(replaced("worker_id 5", "worker_id 5 ")), "not a decimal"},
      {with_checksum(replaced("worker_id 5", "worker_id ")), "bad worker_id \"\": empty"},
      {with_checksum(replaced("worker_id 5", "worker_id 1024")), "above 1023"},
      {with_checksum(replaced("315532800000", "-1")), "bad mark_ms \"-1\": not a decimal"},
      {with_checksum(replaced("315532800000", "2199023255552")), "above 2199023255551"},
      {with_checksum(replaced("315532800000", "99999999999999999999")), "too large"},
      {with_checksum(replaced("315532800000", "1e3")), "not a decimal"},
      {with_checksum(replaced("2024-12-31T00:00:00.000Z", "2024-12-31T00:00:00.001Z")),
       "bad mark \"2024-12-31T00:00:00.001Z\": mark_ms 315532800000 is 2024-12-31T00:00:00.000Z"},
      {with_checksum(replaced("2024-12-31T00:00:00.000Z", "2024-12-31T09:00:00.000+09:00")),
       "bad mark"},
      {with_checksum(replaced("kind reservation", "kind Graceful")), "bad kind \"Graceful\""},
      {with_checksum(replaced("kind reservation", "kind")), "expected the line \"kind"},
  };
  for (const Case& c : cases) {
    const auto why = refusal(c.bytes);
    EXPECT_TRUE(contains(why, c.says)) << c.bytes << "\n→ " << why.value_or("accepted");
  }
}

TEST(StateFileRead, AMissingFileIsAFreshStart) {
  TempDir dir;
  EXPECT_EQ(read_state_file(dir.file("none")), std::nullopt);
}

TEST(StateFileRead, UnusableFilesAreErrorsNamingThePathAndTheReason) {
  TempDir dir;
  const auto expect_refused = [](const std::string& path, std::string_view reason) {
    const auto why = read_refusal(path);
    ASSERT_TRUE(why) << path << ": read without an error";
    EXPECT_NE(why->find("state file " + path), std::string::npos) << *why;
    EXPECT_NE(why->find(reason), std::string::npos) << *why;
  };
  expect_refused(dir.path(), "Is a directory");

  put(dir.file("empty"), "");
  expect_refused(dir.file("empty"), "empty");

  put(dir.file("oversize"), std::string(kMaxStateFileBytes + 1, 'x'));
  expect_refused(dir.file("oversize"), "longer than 4096 bytes");
  put(dir.file("huge"), serialize(kRecord) + std::string(1 << 20, '\n'));
  expect_refused(dir.file("huge"), "longer than 4096 bytes");
  // At the cap it is read whole, and refused for what it says.
  put(dir.file("at-cap"), std::string(kMaxStateFileBytes, 'x'));
  expect_refused(dir.file("at-cap"), "not a katsubushi state file");

  std::string cut = serialize(kRecord);
  cut.pop_back();
  put(dir.file("cut"), cut);
  expect_refused(dir.file("cut"), "unusable: truncated");

  std::string damaged = serialize(kRecord);
  damaged[damaged.find("315532800000")] = '4';
  put(dir.file("damaged"), damaged);
  expect_refused(dir.file("damaged"), "bad checksum");

  // Not read (it would block until a writer came): refused at once.
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  expect_refused(dir.file("fifo"), "not a regular file");
}

TEST(StateFileRead, AnUnreadableFileIsAnErrorNamingThePath) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, which reads any file whatever its mode: "
                    "an unreadable state file cannot be made here";
  }
  TempDir dir;
  const std::string path = dir.file("locked");
  put(path, serialize(kRecord));
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  const auto why = read_refusal(path);
  EXPECT_TRUE(contains(why, "state file " + path + ": cannot open: Permission denied"))
      << why.value_or("read");
}

TEST(StateFileWrite, WhatIsWrittenIsRead) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  for (const StateRecord& r : {kRecord, kLast, kFirst}) {
    write_state_file(path, r);
    EXPECT_EQ(read_state_file(path), r);
    EXPECT_EQ(contents(path), serialize(r));
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1)
      << "only the state file is left";
}

TEST(StateFileWrite, TheOldFileIsReplacedWholeNotRewritten) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  write_state_file(path, kRecord);
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  // A reader that opened the old file before the write.
  const int old_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(old_fd, 0);

  const StateRecord later{.worker_id = 5, .mark_ms = kRecord.mark_ms + 2000, .graceful = true, .worker_id_count = 1};
  write_state_file(path, later);

  EXPECT_EQ(read_state_file(path), later);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "a new file renamed over the old one";
  // The old reader still sees the old record, whole: never a mixture.
  std::string old(256, '\0');
  const ssize_t n = ::read(old_fd, old.data(), old.size());
  ::close(old_fd);
  ASSERT_GE(n, 0);
  old.resize(static_cast<std::size_t>(n));
  EXPECT_EQ(old, serialize(kRecord));
}

TEST(StateFileWrite, AStaleTempFileIsOverwritten) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  put(path + ".tmp", std::string(5000, '#'));  // left by a crash mid-write
  write_state_file(path, kRecord);
  EXPECT_EQ(read_state_file(path), kRecord);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(StateFileWrite, TheFileIsWorldReadable) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  const mode_t mask = ::umask(0022);
  write_state_file(path, kRecord);
  ::umask(mask);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(StateFileWrite, ARelativePathIsWrittenInTheWorkingDirectory) {
  TempDir dir;
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  const auto why = write_refusal("k.state", kRecord);
  std::optional<StateRecord> back;
  if (!why) back = read_state_file("k.state");
  fs::current_path(cwd);
  EXPECT_FALSE(why) << *why;
  EXPECT_EQ(back, kRecord);
  EXPECT_EQ(read_state_file(dir.file("k.state")), kRecord);
}

TEST(StateFileWrite, AMissingDirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/k.state");
  const auto why = write_refusal(path, kRecord);
  EXPECT_TRUE(contains(
      why, "state file " + path + ": cannot create " + path + ".tmp: No such file or directory"))
      << why.value_or("written");
  EXPECT_FALSE(fs::exists(dir.file("no"))) << "no directory is made";
}

TEST(StateFileWrite, ADirectoryInTheWayIsAnErrorAndNoTempFileIsLeft) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  fs::create_directory(path);
  fs::create_directory(path + "/inside");  // a non-empty directory is never replaced
  const auto why = write_refusal(path, kRecord);
  EXPECT_TRUE(contains(why, "state file " + path + ": cannot rename " + path + ".tmp over it"))
      << why.value_or("written");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(fs::is_directory(path + "/inside"));
}

TEST(StateFileWrite, ARecordNoFileCanHoldWritesNothing) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  write_state_file(path, kRecord);
  EXPECT_TRUE(write_refusal(path, {.worker_id = 1024, .mark_ms = 1, .graceful = false, .worker_id_count = 1}));
  EXPECT_EQ(read_state_file(path), kRecord);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(StateFileWrite, AnUnwritableDirectoryIsAnErrorNamingThePath) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, which writes into any directory whatever its mode: "
                    "an unwritable directory cannot be made here";
  }
  TempDir dir;
  const std::string sub = dir.file("ro");
  fs::create_directory(sub);
  ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
  const auto why = write_refusal(sub + "/k.state", kRecord);
  EXPECT_TRUE(contains(why, "state file " + sub + "/k.state: cannot create")) << why.value_or("");
  EXPECT_TRUE(contains(why, "Permission denied")) << why.value_or("");
}

TEST(StateFileWorker, ItsOwnFileIsAccepted) {
  EXPECT_NO_THROW(check_worker(kRecord, 5, 1, "var/k.state"));
}

TEST(StateFileWorker, AnotherWorkersFileIsRefused) {
  try {
    check_worker(kRecord, 6, 1, "var/k.state");
    FAIL() << "no error";
  } catch (const StateFileError& e) {
    EXPECT_TRUE(
        contains(std::string(e.what()),
                 "state file var/k.state belongs to worker id 5, this daemon is worker id 6"))
        << e.what();
  }
}

TEST(StateFileWorker, AFileSharingAWorkerIdWithOursIsAccepted) {
  const StateRecord four{.worker_id = 5, .mark_ms = 1000, .graceful = false, .worker_id_count = 4};
  EXPECT_NO_THROW(check_worker(four, 8, 1, "k"));   // 8 is in 5..8
  EXPECT_NO_THROW(check_worker(kRecord, 2, 4, "k"));  // 5 is in 2..5
  EXPECT_NO_THROW(check_worker(four, 1, 8, "k"));
  try {
    check_worker(four, 9, 2, "k");
    FAIL() << "no error";
  } catch (const StateFileError& e) {
    EXPECT_TRUE(contains(std::string(e.what()),
                         "belongs to worker ids 5..8, this daemon is worker ids 9..10"))
        << e.what();
  }
  EXPECT_THROW(check_worker(kRecord, 1, 4, "k"), StateFileError);  // 1..4 misses 5
}

TEST(StateFileFormat, SeveralWorkerIdsAddALineOneDoesNot) {
  const StateRecord four{.worker_id = 5, .mark_ms = 1000, .graceful = true, .worker_id_count = 4};
  const std::string bytes = serialize(four);
  EXPECT_TRUE(bytes.starts_with("katsubushi-state 1\nworker_id 5\nworker_id_count 4\nmark_ms 1000\n"))
      << bytes;
  EXPECT_EQ(parse(bytes), four);
  EXPECT_EQ(serialize(kRecord).find("worker_id_count"), std::string::npos);
  // One spelling per record: a count of 1 written out is not canonical.
  EXPECT_THROW(parse(with_checksum("katsubushi-state 1\nworker_id 5\nworker_id_count 1\nmark_ms 0\n"
                              "mark 2015-01-01T00:00:00.000Z\nkind reservation\n")),
               StateFileError);
  EXPECT_THROW(serialize({.worker_id = 1021, .mark_ms = 0, .graceful = false, .worker_id_count = 4}),
               StateFileError);
  EXPECT_NO_THROW(
      serialize({.worker_id = 1020, .mark_ms = 0, .graceful = false, .worker_id_count = 4}));
  EXPECT_THROW(serialize({.worker_id = 1, .mark_ms = 0, .graceful = false, .worker_id_count = 0}),
               StateFileError);
}

}  // namespace
}  // namespace katsubushi::state
