#include "state/state_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "id/layout.hpp"

namespace katsubushi::state {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string templ = std::filesystem::temp_directory_path().string() + "/katsubushi-state-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void put(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string error_of(std::string_view bytes) {
  try {
    parse(bytes);
  } catch (const StateFileError& e) {
    return e.what();
  }
  return "";
}

const StateRecord kRecord{.worker_id = 5, .mark_ms = 315'532'800'000, .graceful = false};

TEST(StateFile, ReadsAsTheOperatorWouldExpect) {
  EXPECT_EQ(serialize(kRecord),
            "katsubushi-state 1\nworker_id 5\nmark_ms 315532800000\n"
            "mark 2024-12-31T00:00:00.000Z\nkind reservation\ncrc32c " +
                serialize(kRecord).substr(serialize(kRecord).size() - 9));
}

TEST(StateFile, RoundTripsAtTheExtremes) {
  for (const std::uint32_t worker : {0u, 1u, 1023u}) {
    for (const std::int64_t mark : {std::int64_t{0}, std::int64_t{1}, id::kMaxTimestamp}) {
      for (const bool graceful : {false, true}) {
        const StateRecord r{.worker_id = worker, .mark_ms = mark, .graceful = graceful};
        EXPECT_EQ(parse(serialize(r)), r) << serialize(r);
      }
    }
  }
}

TEST(StateFile, EveryTruncationIsRefused) {
  const std::string bytes = serialize(kRecord);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_NE(error_of(bytes.substr(0, n)), "") << "accepted the first " << n << " bytes";
  }
}

TEST(StateFile, EverySingleByteChangeIsRefused) {
  const std::string bytes = serialize(kRecord);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const char c : {'0', '1', '9', 'a', 'f', ' ', '\n', '\0', '\xff'}) {
      if (bytes[i] == c) continue;
      std::string changed = bytes;
      changed[i] = c;
      EXPECT_NE(error_of(changed), "") << "byte " << i << " set to " << int{c};
    }
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    EXPECT_NE(error_of(flipped), "") << "byte " << i << " flipped";
  }
}

TEST(StateFile, ExtraBytesAndOtherFilesAreRefused) {
  EXPECT_NE(error_of(serialize(kRecord) + "\n"), "");
  EXPECT_NE(error_of(serialize(kRecord) + serialize(kRecord)), "");
  EXPECT_NE(error_of("katsubushi-state 2\n"), "");
  EXPECT_NE(error_of("{\"worker_id\": 5}"), "");
  EXPECT_NE(error_of(""), "");
  // A canonical checksum over a non-canonical body: leading zeros, a sign.
  StateRecord big = kRecord;
  big.worker_id = 1024;
  EXPECT_NE(error_of(serialize(big)), "") << "worker id beyond 1023";
}

TEST(StateFile, AMissingFileIsAFreshStart) {
  TempDir dir;
  EXPECT_EQ(read_state_file(dir.file("none")), std::nullopt);
}

TEST(StateFile, WriteThenReadReplacingTheOldRecordWhole) {
  TempDir dir;
  const std::string path = dir.file("k.state");
  write_state_file(path, kRecord);
  EXPECT_EQ(read_state_file(path), kRecord);
  const StateRecord later{.worker_id = 5, .mark_ms = kRecord.mark_ms + 2000, .graceful = true};
  write_state_file(path, later);
  EXPECT_EQ(read_state_file(path), later);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(StateFile, UnusableFilesAreErrorsNamingThePath) {
  TempDir dir;
  const auto expect_error = [](const std::string& path, const std::string& why) {
    try {
      read_state_file(path);
      ADD_FAILURE() << why << ": no error";
    } catch (const StateFileError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << why << ": " << e.what();
    }
  };
  expect_error(dir.path(), "a directory");
  put(dir.file("empty"), "");
  expect_error(dir.file("empty"), "empty");
  put(dir.file("big"), std::string(kMaxStateFileBytes + 1, 'x'));
  expect_error(dir.file("big"), "oversize");
  std::string cut = serialize(kRecord);
  cut.pop_back();
  put(dir.file("cut"), cut);
  expect_error(dir.file("cut"), "truncated");
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root, which reads any file: the unreadable case is not checked";
  }
  put(dir.file("locked"), serialize(kRecord));
  ::chmod(dir.file("locked").c_str(), 0);
  expect_error(dir.file("locked"), "unreadable");
}

TEST(StateFile, WritingIntoAMissingDirectoryFailsClearly) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/k.state");
  try {
    write_state_file(path, kRecord);
    FAIL() << "no error";
  } catch (const StateFileError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(StateFile, AnotherWorkersFileIsRefused) {
  EXPECT_NO_THROW(check_worker(kRecord, 5, "k.state"));
  try {
    check_worker(kRecord, 6, "k.state");
    FAIL() << "no error";
  } catch (const StateFileError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("worker id 5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("worker id 6"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace katsubushi::state
