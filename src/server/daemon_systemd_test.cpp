// The daemon under systemd, without systemd: a notify socket of the test's own
// (what systemd sets NOTIFY_SOCKET to), sockets handed over as systemd hands
// them (LISTEN_FDS, by systemd-socket-activate or by the test itself), and a
// restart on one listening socket that refuses no connection.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "id/layout.hpp"
#include "katsubushi.grpc.pb.h"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// An fd closed when the test ends.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// What systemd listens on for sd_notify: a datagram socket at a path.
class NotifySocket {
 public:
  NotifySocket() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    path_ = (dir_.path() / "notify").string();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    bound_ = fd_.get() >= 0 &&
             ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  bool bound() const { return bound_; }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next message, or nullopt after `timeout`.
  std::optional<std::string> next(Millis timeout = kStartTimeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    std::string buf(4096, '\0');
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    seen_.push_back(buf);
    return buf;
  }
  // Reads until a message has the line `line`; returns that message.
  std::optional<std::string> wait_for(const std::string& line, Millis timeout = kStartTimeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
      const auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now());
      auto m = next(std::max(left, Millis(1)));
      if (!m) return std::nullopt;
      if (has_line(*m, line)) return m;
    }
    return std::nullopt;
  }
  static bool has_line(const std::string& message, const std::string& line) {
    return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
  }
  // Every message so far, for failure output.
  std::string seen() const {
    std::string s;
    for (const auto& m : seen_) s += "[" + m + "] ";
    return s;
  }

 private:
  TempDir dir_;
  Fd fd_;
  std::string path_;
  bool bound_ = false;
  std::vector<std::string> seen_;
};

// The STATUS= line of a message.
std::string status_of(const std::string& message) {
  const auto at = message.find("STATUS=");
  if (at == std::string::npos) return "";
  return message.substr(at + 7, message.find('\n', at) - (at + 7));
}

// The number after "memcached on port " in a STATUS line, or 0.
std::uint16_t port_in_status(const std::string& status) {
  const std::string key = "memcached on port ";
  const auto at = status.find(key);
  if (at == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::stoul(status.substr(at + key.size())));
}

// A listening TCP socket on 127.0.0.1 (port 0: the kernel picks), as a socket
// unit would hold it; `port` gets the port.
int loopback_listener(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

// Connects until something listens on `port` (a socket activator binds it
// after it starts).
bool connect_when_listening(LoopbackClient& c, std::uint16_t port) {
  const auto deadline = SteadyClock::now() + kStartTimeout;
  while (SteadyClock::now() < deadline) {
    if (c.connect_tcp("127.0.0.1", port)) return true;
    std::this_thread::sleep_for(Millis(10));
  }
  return false;
}

TEST(DaemonSystemd, ReadyOnceListeningStoppingOnSigterm) {
  NotifySocket notify;
  ASSERT_TRUE(notify.bound());
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.spawn({"-worker-id=37", "-threads=2", "-port=0", "-http-port=0"},
                           {notify.env()}));
  const auto ready = notify.wait_for("READY=1");
  ASSERT_TRUE(ready) << "no READY=1: " << notify.seen() << "\n" << daemon.log();
  const std::string status = status_of(*ready);
  EXPECT_NE(status.find("worker id 37"), std::string::npos) << status;
  const std::uint16_t port = port_in_status(status);
  ASSERT_NE(port, 0) << status;

  // Ready means serving: the very first try answers.
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", port));
  const auto ids = request_ids(c, "get a");
  ASSERT_TRUE(ids && ids->size() == 1) << daemon.log();
  EXPECT_EQ(id::decode(ids->front().id).worker_id, 37u);

  ASSERT_TRUE(daemon.send_signal(SIGTERM));
  const auto stopping = notify.wait_for("STOPPING=1");
  ASSERT_TRUE(stopping) << "no STOPPING=1: " << notify.seen() << "\n" << daemon.log();
  EXPECT_NE(status_of(*stopping).find("shutting down"), std::string::npos) << *stopping;
  c.close();
  const auto exit = daemon.wait_exit();
  ASSERT_TRUE(exit) << daemon.log();
  EXPECT_TRUE(exit->clean()) << exit->describe() << "\n" << daemon.log();
}

TEST(DaemonSystemd, WatchdogPingsKeepComing) {
  NotifySocket notify;
  ASSERT_TRUE(notify.bound());
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.spawn({"-worker-id=38", "-threads=3", "-port=0"},
                           {notify.env(), "WATCHDOG_USEC=200000"}));
  ASSERT_TRUE(notify.wait_for("READY=1")) << notify.seen() << "\n" << daemon.log();
  constexpr int kPings = 5;
  for (int i = 0; i < kPings; ++i) {
    ASSERT_TRUE(notify.wait_for("WATCHDOG=1"))
        << "ping " << i << " missing: " << notify.seen() << "\n" << daemon.log();
  }
  ASSERT_TRUE(daemon.send_signal(SIGTERM));
  ASSERT_TRUE(notify.wait_for("STOPPING=1")) << notify.seen();
  const auto exit = daemon.wait_exit();
  ASSERT_TRUE(exit) << daemon.log();
  EXPECT_TRUE(exit->clean()) << exit->describe() << "\n" << daemon.log();
}

// Without NOTIFY_SOCKET or WATCHDOG_USEC nothing is sent and nothing changes.
TEST(DaemonSystemd, WithoutSystemdTheDaemonServesAsEver) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=39", "-threads=1"})) << daemon.log();
  const auto exit = daemon.stop(SIGTERM);
  ASSERT_TRUE(exit) << daemon.log();
  EXPECT_TRUE(exit->clean()) << exit->describe() << "\n" << daemon.log();
  EXPECT_EQ(daemon.log().find("systemd"), std::string::npos) << daemon.log();
}

// systemd-socket-activate (Debian's systemd package) binds the sockets,
// starts the daemon on the first connection and hands them over by name.
TEST(DaemonSystemd, SocketActivatedMemcachedAndHttp) {
  const std::uint16_t memcached_port = free_tcp_port();
  std::uint16_t http_port = free_tcp_port();
  while (http_port == memcached_port) http_port = free_tcp_port();
  ASSERT_NE(memcached_port, 0);
  ASSERT_NE(http_port, 0);
  DaemonProcess daemon;
  daemon.set_launch_options(
      {.wrapper = {"systemd-socket-activate", "--listen=127.0.0.1:" + std::to_string(memcached_port),
                   "--listen=127.0.0.1:" + std::to_string(http_port), "--fdname=memcached:http"},
       .fd_limit = std::nullopt});
  ASSERT_TRUE(daemon.spawn({"-worker-id=40", "-threads=1", "-port=0"}));

  LoopbackClient c;
  ASSERT_TRUE(connect_when_listening(c, memcached_port)) << daemon.log();
  const auto ids = request_ids(c, "get a");
  ASSERT_TRUE(ids && ids->size() == 1) << daemon.log();
  EXPECT_EQ(id::decode(ids->front().id).worker_id, 40u);

  LoopbackClient h;
  ASSERT_TRUE(h.connect_tcp("127.0.0.1", http_port));
  ASSERT_TRUE(h.send_all("GET /id HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  const auto reply = h.read_until_closed();
  ASSERT_TRUE(reply) << daemon.log();
  EXPECT_TRUE(reply->starts_with("HTTP/1.1 200")) << *reply;

  const std::string log = daemon.log();
  EXPECT_NE(log.find("memcached listening on 127.0.0.1 port " + std::to_string(memcached_port) +
                     " (fd 3 from systemd, instead of -port 0)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("http listening on 127.0.0.1 port " + std::to_string(http_port) +
                     " (fd 4 from systemd"),
            std::string::npos)
      << log;
  c.close();
  const auto exit = daemon.stop(SIGTERM);
  ASSERT_TRUE(exit) << log;
  EXPECT_TRUE(exit->clean()) << exit->describe() << "\n" << daemon.log();
}

// Sockets handed over by the test itself, as systemd does: memcached and gRPC.
TEST(DaemonSystemd, SocketActivatedGrpc) {
  std::uint16_t memcached_port = 0;
  std::uint16_t grpc_port = 0;
  const Fd memcached(loopback_listener(memcached_port));
  const Fd grpc_listener(loopback_listener(grpc_port));
  ASSERT_GE(memcached.get(), 0);
  ASSERT_GE(grpc_listener.get(), 0);
  DaemonProcess daemon;
  daemon.set_listen_fds({{.fd = memcached.get(), .name = "memcached"},
                         {.fd = grpc_listener.get(), .name = "grpc"}});
  ASSERT_TRUE(daemon.spawn({"-worker-id=43", "-threads=1", "-port=0"}));

  auto stub = katsubushi::Generator::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kStartTimeout);
  katsubushi::FetchResponse res;
  const grpc::Status status = stub->Fetch(&ctx, katsubushi::FetchRequest(), &res);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << daemon.log();
  EXPECT_EQ(id::decode(res.id()).worker_id, 43u);

  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", memcached_port));
  const auto ids = request_ids(c, "get a");
  ASSERT_TRUE(ids && ids->size() == 1) << daemon.log();
  EXPECT_GT(ids->front().id, res.id());
  EXPECT_NE(daemon.log().find("grpc listening on 127.0.0.1 port " + std::to_string(grpc_port) +
                              " (fd 4 from systemd, instead of -grpc-port 0)"),
            std::string::npos)
      << daemon.log();
  c.close();
  const auto exit = daemon.stop(SIGTERM);
  ASSERT_TRUE(exit) << daemon.log();
  EXPECT_TRUE(exit->clean()) << exit->describe() << "\n" << daemon.log();
}

// The socket systemd handed over is still the daemon's once katsubushi has
// run katsubushi-epoll in its place (-io-engine epoll: the same process, so
// LISTEN_PID still names it, and the fds are inherited).
TEST(DaemonSystemd, SocketActivatedThroughTheEpollBuild) {
#ifndef KATSUBUSHI_EPOLL_BIN
  GTEST_SKIP() << "katsubushi-epoll is not built here; the release stage runs this";
#endif
  std::uint16_t port = 0;
  const Fd listener(loopback_listener(port));
  ASSERT_GE(listener.get(), 0);
  DaemonProcess daemon;
  daemon.set_listen_fds({{.fd = listener.get(), .name = "memcached"}});
  ASSERT_TRUE(daemon.spawn({"-worker-id=44", "-threads=1", "-port=0", "-io-engine=epoll"}));
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", port));
  const auto ids = request_ids(c, "get a");
  ASSERT_TRUE(ids && ids->size() == 1) << daemon.log();
  EXPECT_EQ(id::decode(ids->front().id).worker_id, 44u);
  const auto stats = query_stats(c);
  EXPECT_EQ(stats.count("event_loop") ? stats.at("event_loop") : "", "epoll") << daemon.log();
  c.close();
  const auto exit = daemon.stop(SIGTERM);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->clean()) << exit->describe() << "\n" << daemon.log();
}

// One listening socket held by the test, as a socket unit holds it: daemon A
// stops, clients connect while no daemon runs and wait in the backlog, and
// daemon B, handed the same socket, answers every one of them.
TEST(DaemonSystemd, RestartOnAHeldSocketRefusesNoConnection) {
  std::uint16_t port = 0;
  const Fd listener(loopback_listener(port));
  ASSERT_GE(listener.get(), 0);
  const std::vector<PassedSocket> handed = {{.fd = listener.get(), .name = "memcached"}};
  const std::vector<std::string> args = {"-worker-id=41", "-threads=2", "-port=0"};

  DaemonProcess a;
  a.set_listen_fds(handed);
  ASSERT_TRUE(a.spawn(args));
  LoopbackClient first;
  ASSERT_TRUE(first.connect_tcp("127.0.0.1", port));
  const auto from_a = request_ids(first, "get a");
  ASSERT_TRUE(from_a && from_a->size() == 1) << a.log();
  first.close();
  const auto a_exit = a.stop(SIGTERM);
  ASSERT_TRUE(a_exit && a_exit->clean()) << a.log();

  constexpr int kWaiting = 8;
  std::vector<LoopbackClient> waiting(kWaiting);
  for (auto& w : waiting) {
    ASSERT_TRUE(w.connect_tcp("127.0.0.1", port)) << "refused while no daemon ran";
    ASSERT_TRUE(w.send_all("get b\r\n"));
  }

  DaemonProcess b;
  b.set_listen_fds(handed);
  ASSERT_TRUE(b.spawn(args));
  for (auto& w : waiting) {
    std::string unparsed;
    std::vector<IdValue> values;
    std::size_t used = 0;
    ParseStatus parsed = ParseStatus::partial;
    while (parsed == ParseStatus::partial && w.recv_some(unparsed, kReplyTimeout) == RecvStatus::data) {
      parsed = parse_get_reply(unparsed, values, used);
    }
    ASSERT_EQ(parsed, ParseStatus::complete) << "[" << unparsed << "]\n" << b.log();
    ASSERT_EQ(values.size(), 1u);
    EXPECT_GT(values.front().id, from_a->front().id);
    EXPECT_EQ(id::decode(values.front().id).worker_id, 41u);
  }
  const auto b_exit = b.stop(SIGTERM);
  ASSERT_TRUE(b_exit) << b.log();
  EXPECT_TRUE(b_exit->clean()) << b_exit->describe() << "\n" << b.log();
}

// Start-up errors: what systemd hands over must be a listening stream socket
// with a name the daemon knows.
struct BadHandover {
  const char* what;
  int (*make)();
  const char* name;
  const char* message;
};

void PrintTo(const BadHandover& bad, std::ostream* os) { *os << bad.what; }

int connected_socket_fd() {
  // A stream socket that was never put to listening.
  return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}
int datagram_socket_fd() { return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
int listening_socket_fd() {
  std::uint16_t port = 0;
  return loopback_listener(port);
}

class DaemonSystemdBadSocket : public ::testing::TestWithParam<BadHandover> {};

TEST_P(DaemonSystemdBadSocket, IsAStartUpErrorNamingTheFd) {
  const BadHandover& bad = GetParam();
  const Fd fd(bad.make());
  ASSERT_GE(fd.get(), 0);
  DaemonProcess daemon;
  daemon.set_listen_fds({{.fd = fd.get(), .name = bad.name}});
  ASSERT_TRUE(daemon.spawn({"-worker-id=42", "-threads=1", "-port=0"}));
  const auto exit = daemon.wait_exit();
  ASSERT_TRUE(exit) << daemon.log();
  EXPECT_TRUE(exit->exited && exit->code == 1) << exit->describe() << "\n" << daemon.log();
  const std::string expected = std::string("cannot start: socket activation: fd 3 named \"") +
                               bad.name + "\": " + bad.message;
  EXPECT_NE(daemon.log().find(expected), std::string::npos)
      << "expected: " << expected << "\n" << daemon.log();
}

INSTANTIATE_TEST_SUITE_P(
    Handovers, DaemonSystemdBadSocket,
    ::testing::Values(
        BadHandover{"NotListening", connected_socket_fd, "memcached",
                    "not a listening stream socket"},
        BadHandover{"Datagram", datagram_socket_fd, "http", "not a listening stream socket"},
        BadHandover{"UnknownName", listening_socket_fd, "memcache", "unknown name"}),
    [](const ::testing::TestParamInfo<BadHandover>& param_info) {
      return std::string(param_info.param.what);
    });

}  // namespace
}  // namespace katsubushi::testing
