#include "state/state_lock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "state/state_file.hpp"

namespace katsubushi::state {
namespace {

namespace fs = std::filesystem;

class StateLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string templ = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                        "/katsubushi-lock-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << templ;
    dir_ = templ;
    path_ = dir_ + "/katsubushi.state";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string content(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // What StateFileLock(path) throws, or nullopt when it takes the lock (and
  // lets it go again).
  static std::optional<std::string> refusal(const std::string& path) {
    try {
      const StateFileLock lock(path);
      return std::nullopt;
    } catch (const StateFileError& e) {
      return std::string(e.what());
    }
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateLockTest, TheLockFileSitsBesideTheStateFileAndHoldsOurPid) {
  EXPECT_EQ(lock_file_path("/var/lib/katsubushi/state"), "/var/lib/katsubushi/state.lock");
  const StateFileLock lock(path_);
  EXPECT_EQ(lock.path(), path_ + ".lock");
  EXPECT_EQ(content(lock.path()), std::to_string(::getpid()) + "\n");
  EXPECT_FALSE(fs::exists(path_)) << "the lock touched the state file";
}

// flock locks belong to an open file description: a second open of the
// file in the same process is a second holder, and is refused.
TEST_F(StateLockTest, ASecondLockOnOnePathIsRefusedEvenInTheSameProcess) {
  const StateFileLock first(path_);
  const auto why = refusal(path_);
  ASSERT_TRUE(why) << "two locks on one state file";
  EXPECT_NE(why->find("state file " + path_ + ": in use by another katsubushi"), std::string::npos)
      << *why;
  EXPECT_NE(why->find("pid " + std::to_string(::getpid())), std::string::npos) << *why;
  EXPECT_NE(why->find("lock file " + path_ + ".lock"), std::string::npos) << *why;
  // The refused one wrote nothing over the holder's pid.
  EXPECT_EQ(content(first.path()), std::to_string(::getpid()) + "\n");
}

// Every write replaces the state file by a rename; the lock is on a file of
// its own, so it holds across writes.
TEST_F(StateLockTest, TheLockHoldsAcrossStateFileWrites) {
  const StateFileLock lock(path_);
  write_state_file(path_, {.worker_id = 3, .mark_ms = 1000, .graceful = false, .worker_id_count = 1});
  write_state_file(path_, {.worker_id = 3, .mark_ms = 2000, .graceful = false, .worker_id_count = 1});
  EXPECT_TRUE(refusal(path_));
  EXPECT_EQ(read_state_file(path_)->mark_ms, 2000);
}

TEST_F(StateLockTest, ALockFileLeftBehindByAHolderThatIsGoneDoesNotBlock) {
  { const StateFileLock gone(path_); }
  EXPECT_TRUE(fs::exists(path_ + ".lock")) << "the lock file should stay (see the header)";
  // As a SIGKILLed daemon leaves it: a dead pid, and no lock held.
  std::ofstream(path_ + ".lock", std::ios::trunc) << "4194304\n";
  EXPECT_EQ(refusal(path_), std::nullopt);
  std::ofstream(path_ + ".lock", std::ios::trunc) << "not a pid, and longer than the pid line";
  const StateFileLock lock(path_);
  EXPECT_EQ(content(lock.path()), std::to_string(::getpid()) + "\n");
}

TEST_F(StateLockTest, AHolderThatWroteNoPidIsStillAHolder) {
  // Another program's flock on the file, before (or without) a pid in it.
  const int fd = ::open((path_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const auto why = refusal(path_);
  ::close(fd);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("pid not known"), std::string::npos) << *why;
  EXPECT_EQ(refusal(path_), std::nullopt) << "closing the holder's file releases the lock";
}

TEST_F(StateLockTest, OtherStateFilesInTheSameDirectoryHaveLocksOfTheirOwn) {
  const StateFileLock a(path_);
  EXPECT_EQ(refusal(dir_ + "/other.state"), std::nullopt);
}

TEST_F(StateLockTest, AnUnusableLockFileIsAnErrorNamingIt) {
  const std::string missing = dir_ + "/no/such/k.state";
  auto why = refusal(missing);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("cannot create or open its lock file " + missing + ".lock"),
            std::string::npos)
      << *why;

  fs::create_directory(path_ + ".lock");
  why = refusal(path_);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find(path_ + ".lock"), std::string::npos) << *why;
  fs::remove(path_ + ".lock");

  ASSERT_EQ(::mkfifo((path_ + ".lock").c_str(), 0600), 0);
  why = refusal(path_);
  ASSERT_TRUE(why) << "a FIFO taken as a lock file";
  EXPECT_NE(why->find("is not a regular file"), std::string::npos) << *why;
  fs::remove(path_ + ".lock");

  // A symlink is not followed: the file it points to stays as it is.
  const std::string victim = dir_ + "/victim";
  std::ofstream(victim) << "keep me\n";
  fs::create_symlink(victim, path_ + ".lock");
  why = refusal(path_);
  ASSERT_TRUE(why) << "a symlink followed";
  EXPECT_EQ(content(victim), "keep me\n");
}

}  // namespace
}  // namespace katsubushi::state
