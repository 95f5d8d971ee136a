// -sock: serving over a unix socket, replacing stale socket files, refusing
// a live one, and cleaning up after a graceful stop.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "id/layout.hpp"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

namespace fs = std::filesystem;

bool serves_ids(const std::string& path, std::uint32_t worker_id) {
  LoopbackClient c;
  if (!c.connect_unix(path)) return false;
  auto values = request_ids(c, "get over_unix");
  return values && values->size() == 1 && id::decode((*values)[0].id).worker_id == worker_id;
}

// A socket file nobody listens on, as a crashed process leaves it.
bool make_stale_socket_file(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return bound;
}

class DaemonUnixSocket : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string path_ = (dir_.path() / "katsubushi.sock").string();
};

TEST_F(DaemonUnixSocket, ServesIdsAndRemovesTheFileOnGracefulStop) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_unix(path_, {"-worker-id=31", "-threads=1"})) << daemon.log();
  EXPECT_TRUE(fs::is_socket(path_));
  EXPECT_TRUE(serves_ids(path_, 31));
  LoopbackClient c;
  ASSERT_TRUE(c.connect_unix(path_));
  auto settings = c.request("stats settings\r\n", "END\r\n");
  ASSERT_TRUE(settings);
  EXPECT_EQ(parse_stats(*settings)["domain_socket"], path_);
  c.close();  // an open client would make the daemon linger for its EOF

  const auto status = daemon.stop(SIGTERM);
  ASSERT_TRUE(status) << daemon.log();
  EXPECT_TRUE(status->clean()) << status->describe() << "\n" << daemon.log();
  EXPECT_FALSE(fs::exists(fs::symlink_status(path_))) << "socket file left after a graceful stop";
}

TEST_F(DaemonUnixSocket, ReplacesAStaleFileLeftByABoundAndClosedSocket) {
  ASSERT_TRUE(make_stale_socket_file(path_));
  ASSERT_TRUE(fs::is_socket(path_));
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_unix(path_, {"-worker-id=32", "-threads=1"})) << daemon.log();
  EXPECT_TRUE(serves_ids(path_, 32));
}

TEST_F(DaemonUnixSocket, ReplacesTheFileOfAKilledDaemon) {
  DaemonProcess first;
  ASSERT_TRUE(first.start_unix(path_, {"-worker-id=33", "-threads=1"})) << first.log();
  const auto killed = first.stop(SIGKILL);
  ASSERT_TRUE(killed);
  ASSERT_FALSE(killed->exited);
  ASSERT_TRUE(fs::is_socket(path_)) << "a killed daemon cannot have removed its socket file";

  DaemonProcess second;
  ASSERT_TRUE(second.start_unix(path_, {"-worker-id=34", "-threads=1"})) << second.log();
  EXPECT_TRUE(serves_ids(path_, 34));
}

TEST_F(DaemonUnixSocket, ALiveSocketMakesTheSecondDaemonFail) {
  DaemonProcess owner;
  ASSERT_TRUE(owner.start_unix(path_, {"-worker-id=35", "-threads=1"})) << owner.log();

  DaemonProcess intruder;
  ASSERT_TRUE(intruder.spawn({"-worker-id=36", "-threads=1", "-sock=" + path_}));
  const auto status = intruder.wait_exit();
  ASSERT_TRUE(status) << "a second daemon on a live socket kept running\n" << intruder.log();
  EXPECT_TRUE(status->exited) << status->describe();
  EXPECT_NE(status->code, 0);
  const std::string log = intruder.log();
  EXPECT_NE(log.find(path_), std::string::npos) << log;
  EXPECT_NE(log.find("listening"), std::string::npos) << log;

  // The failed start must not have taken the owner's socket away.
  EXPECT_TRUE(owner.running());
  EXPECT_TRUE(serves_ids(path_, 35));
}

// A listener that accepts nothing (its owner stopped, or swamped) and whose
// backlog is full: a blocking probe would wait on it forever. It is alive,
// so the second daemon must fail at once, and leave the socket alone.
TEST_F(DaemonUnixSocket, AListenerWithAFullBacklogIsAliveAndTheProbeDoesNotHang) {
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  std::vector<int> queued;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const bool full = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
                      errno == EAGAIN;
    queued.push_back(fd);
    if (full) break;
  }

  DaemonProcess intruder;
  ASSERT_TRUE(intruder.spawn({"-worker-id=38", "-threads=1", "-sock=" + path_}));
  const auto status = intruder.wait_exit(10s);
  for (int fd : queued) ::close(fd);
  ::close(listener);
  ASSERT_TRUE(status) << "the daemon hung probing a live socket\n" << intruder.log();
  EXPECT_TRUE(status->exited && status->code == 1) << status->describe();
  EXPECT_NE(intruder.log().find("another process is listening"), std::string::npos)
      << intruder.log();
  EXPECT_TRUE(fs::is_socket(path_)) << "the live socket's file was removed";
}

TEST_F(DaemonUnixSocket, RefusesToReplaceAFileThatIsNotASocket) {
  { std::ofstream(path_) << "precious\n"; }
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.spawn({"-worker-id=37", "-threads=1", "-sock=" + path_}));
  const auto status = daemon.wait_exit();
  ASSERT_TRUE(status) << daemon.log();
  EXPECT_TRUE(status->exited && status->code != 0) << status->describe();
  EXPECT_NE(daemon.log().find("not a socket"), std::string::npos) << daemon.log();
  std::ifstream in(path_);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "precious");
}

}  // namespace
}  // namespace katsubushi::testing
