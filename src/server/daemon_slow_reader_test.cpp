// A client that reads our replies slower than the kernel wakes a blocked
// writer is still reading: every byte it takes is progress for the idle
// timeout, and it gets every reply it asked for.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/limits.hpp"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Counts complete `get` replies in `bytes` from `from` on, and checks every
// id is above the one before; returns where the unfinished reply starts.
struct ReplyTally {
  std::size_t replies = 0;
  std::size_t ids = 0;
  std::uint64_t last_id = 0;
  bool ordered = true;
  std::size_t eat(std::string_view bytes) {
    std::size_t used = 0;
    while (true) {
      std::vector<IdValue> values;
      std::size_t n = 0;
      if (parse_get_reply(bytes.substr(used), values, n) != ParseStatus::complete) return used;
      for (const IdValue& v : values) {
        ordered = ordered && v.id > last_id;
        last_id = v.id;
      }
      ids += values.size();
      ++replies;
      used += n;
    }
  }
};

// A loopback TCP connection whose receive buffer is 8 KiB from the start
// (set after connect, the window the handshake announced stays larger and the
// kernel's window updates come only on its timers); -1 on failure.
int connect_with_small_receive_buffer(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int small = 8192;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) != 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// `count` pipelined ten-key gets.
std::string ten_key_gets(int count) {
  std::string requests;
  for (int i = 0; i < count; ++i) requests += "get a b c d e f g h i j\r\n";
  return requests;
}

// Sends what the socket takes of `bytes` until all is sent or `bound` has
// passed; returns how many bytes were left unsent (the daemon takes requests
// only as fast as it can answer them).
std::size_t send_for(int fd, std::string_view bytes, Millis bound) {
  const auto until = SteadyClock::now() + bound;
  while (!bytes.empty() && SteadyClock::now() < until) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    if (n > 0) bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return bytes.size();
}

// 15,000 pipelined ten-key gets (about 5.3 MB of replies) read at about
// 200 kB/s for 3.5 idle periods through an 8 KiB receive buffer, then at full
// speed. At that pace the kernel, which wakes a blocked writer only once a
// third of its (autotuned, up to 4 MiB) send buffer is free, would not wake
// the daemon's write within an idle period: the client would be reset
// mid-reply as if it had stopped reading.
TEST(DaemonSlowReader, AClientDrainingAt200kBPerSecondGetsEveryReply) {
  constexpr int kRequests = 15'000;
  constexpr int kKeys = 10;
  constexpr std::size_t kChunk = 16 * 1024;
  constexpr auto kPause = Millis(80);  // 16 KiB / 80 ms = 200 kB/s
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=21", "-threads=2", "-idle-timeout=1s"}))
      << daemon.log();
  const int fd = connect_with_small_receive_buffer(daemon.port());
  ASSERT_GE(fd, 0);

  const std::string requests = ten_key_gets(kRequests);
  // Sending them all takes as long as reading: longer than send_all's bound.
  bool sent = false;
  std::thread sender([&] { sent = send_for(fd, requests, 60s) == 0; });

  ReplyTally tally;
  std::string pending;
  std::vector<char> chunk(kChunk);
  bool closed = false;
  // Bounds are hang protection: at full speed the rest takes well under a second.
  const auto slow_until = SteadyClock::now() + 3500ms;
  const auto bound = SteadyClock::now() + 60s;
  while (tally.replies < kRequests && !closed && SteadyClock::now() < bound) {
    const bool slow = SteadyClock::now() < slow_until;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) continue;
    const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (n <= 0) {
      closed = true;
      break;
    }
    pending.append(chunk.data(), static_cast<std::size_t>(n));
    pending.erase(0, tally.eat(pending));
    if (slow) std::this_thread::sleep_for(kPause);
  }
  sender.join();
  ::close(fd);
  EXPECT_TRUE(sent);
  EXPECT_FALSE(closed) << "reset after " << tally.replies << " of " << kRequests << " replies";
  EXPECT_EQ(tally.replies, static_cast<std::size_t>(kRequests));
  EXPECT_EQ(tally.ids, static_cast<std::size_t>(kRequests) * kKeys);
  EXPECT_TRUE(tally.ordered);
  EXPECT_EQ(pending, "");

  LoopbackClient checker;
  ASSERT_TRUE(checker.connect_tcp("127.0.0.1", daemon.port()));
  EXPECT_EQ(stat_value(query_stats(checker), "idle_kicks"), 0);
}

// The bytes the kernel holds for the loopback TCP socket from `local_port` to
// `remote_port` (written, not yet acknowledged: on loopback, not yet taken
// into the peer's receive buffer), from /proc/net/tcp and tcp6; -1 if none.
std::int64_t kernel_send_queue(std::uint16_t local_port, std::uint16_t remote_port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues;
      fields >> slot >> local >> remote >> state >> queues;
      const auto port_of = [](const std::string& address) {
        return static_cast<std::uint16_t>(
            std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
      };
      if (port_of(local) != local_port || port_of(remote) != remote_port) continue;
      return static_cast<std::int64_t>(std::stoull(queues.substr(0, queues.find(':')), nullptr, 16));
    }
  }
  return -1;
}

std::uint16_t local_port_of(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return 0;
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

// A client that stops reading pins at most about kKernelUnsentBytes of
// replies in the daemon's socket (plus what is in flight, here an 8 KiB
// window), not a send buffer the kernel autotuned to megabytes.
TEST(DaemonSlowReader, RepliesAClientDoesNotTakeStayBoundedInTheKernel) {
  constexpr int kRequests = 15'000;  // about 5.3 MB of replies
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=22", "-threads=1", "-idle-timeout=0"}))
      << daemon.log();
  const int fd = connect_with_small_receive_buffer(daemon.port());
  ASSERT_GE(fd, 0);
  // The daemon stops reading once its own output limit is reached, so the
  // kernel may not take every request: send for a while, whatever it takes.
  send_for(fd, ten_key_gets(kRequests), 2s);
  const std::uint16_t ours = local_port_of(fd);
  std::int64_t most = -1;
  const auto watch_until = SteadyClock::now() + 1s;
  while (SteadyClock::now() < watch_until) {
    most = std::max(most, kernel_send_queue(daemon.port(), ours));
    std::this_thread::sleep_for(Millis(20));
  }
  ::close(fd);
  ASSERT_GT(most, 0) << "the daemon's socket was not found, or it queued nothing";
  EXPECT_LE(most, static_cast<std::int64_t>(config::kKernelUnsentBytes + 128 * 1024))
      << "the kernel holds " << most << " bytes of replies the client has not taken";

  LoopbackClient checker;
  ASSERT_TRUE(checker.connect_tcp("127.0.0.1", daemon.port()));
  EXPECT_TRUE(request_ids(checker, "get still_serving"));
}

}  // namespace
}  // namespace katsubushi::testing
