#include "conform/transport.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <system_error>

namespace katsubushi::conform {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::error_code(err, std::system_category()).message(); }

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on `fd` until `deadline`: 1 ready, 0 timed out, -1 error.
int wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -1 : (n == 0 ? 0 : 1);
  }
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(int fd) : fd_(fd) {}
  ~TcpTransport() override { ::close(fd_); }
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;
  TcpTransport(TcpTransport&&) = delete;
  TcpTransport& operator=(TcpTransport&&) = delete;

  bool send(std::string_view bytes, Millis timeout, std::string& error,
            bool& peer_closed) override {
    const auto deadline = Clock::now() + timeout;
    peer_closed = false;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const int ready = wait_for(fd_, POLLOUT, deadline);
        if (ready > 0) continue;
        error = ready == 0 ? "the server took no more bytes within " +
                                 std::to_string(timeout.count()) + " ms"
                           : "poll: " + errno_text(errno);
        return false;
      }
      peer_closed = errno == EPIPE || errno == ECONNRESET;
      error = "send: " + errno_text(errno);
      return false;
    }
    return true;
  }

  RecvStatus recv(std::string& out, Millis timeout, std::string& error) override {
    const auto deadline = Clock::now() + timeout;
    std::array<char, std::size_t{16} * 1024> buf{};
    for (;;) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n > 0) {
        out.append(buf.data(), static_cast<std::size_t>(n));
        return RecvStatus::data;
      }
      if (n == 0) return RecvStatus::closed;
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) {
        error = "reset";
        return RecvStatus::closed;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        error = "recv: " + errno_text(errno);
        return RecvStatus::error;
      }
      const int ready = wait_for(fd_, POLLIN, deadline);
      if (ready == 0) return RecvStatus::timeout;
      if (ready < 0) {
        error = "poll: " + errno_text(errno);
        return RecvStatus::error;
      }
    }
  }

 private:
  int fd_;
};

// A non-blocking connect to one address, bounded by `deadline`.
int connect_one(const addrinfo& ai, Clock::time_point deadline, std::string& error) {
  const int fd =
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) {
    error = "socket: " + errno_text(errno);
    return -1;
  }
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) {
    error = "connect: " + errno_text(errno);
    ::close(fd);
    return -1;
  }
  const int ready = wait_for(fd, POLLOUT, deadline);
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (ready <= 0) {
    error = ready == 0 ? "connect: timed out" : "poll: " + errno_text(errno);
  } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
    error = "connect: " + errno_text(so_error != 0 ? so_error : errno);
  } else {
    return fd;
  }
  ::close(fd);
  return -1;
}

}  // namespace

std::string Target::describe() const {
  return host.find(':') == std::string::npos ? host + ":" + port : "[" + host + "]:" + port;
}

bool parse_target(std::string_view text, Target& out, std::string& error) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "want [ADDRESS]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      error = "want HOST:PORT (an IPv6 address in brackets)";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      number == 0 || number > 65535) {
    error = "want HOST:PORT with a port from 1 to 65535";
    return false;
  }
  out.host = std::string(host);
  out.port = std::string(port);
  return true;
}

std::unique_ptr<Transport> connect_tcp(const Target& target, Millis timeout, std::string& error) {
  const auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found);
  if (rc != 0) {
    error = target.describe() + ": " + ::gai_strerror(rc);
    return nullptr;
  }
  std::string why = "no address";
  int fd = -1;
  for (const addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = connect_one(*ai, deadline, why);
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    error = target.describe() + ": " + why;
    return nullptr;
  }
  return std::make_unique<TcpTransport>(fd);
}

}  // namespace katsubushi::conform
