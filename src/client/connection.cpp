#include "client/connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "client/resolve.hpp"

namespace katsubushi::client {
namespace {

constexpr std::size_t kReadChunk = 16384;

std::string errno_text(int err) {
  std::array<char, 256> buf{};
  return ::strerror_r(err, buf.data(), buf.size());  // GNU: returns the text
}

// Waits for `events` on `fd` until `deadline`: 1 ready, 0 timed out, -1 error (errno).
int wait_for(int fd, short events, SteadyTime deadline) {
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60000)));
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

// connect() on a non-blocking socket, finished before `deadline`.
Fault connect_before(int fd, const sockaddr* addr, socklen_t len, SteadyTime deadline) {
  if (::connect(fd, addr, len) == 0) return {};
  if (errno != EINPROGRESS && errno != EAGAIN) {
    return {TryErrc::connect_failed, errno_text(errno)};
  }
  const int ready = wait_for(fd, POLLOUT, deadline);
  if (ready == 0) return {TryErrc::timed_out, "connecting"};
  if (ready < 0) return {TryErrc::connect_failed, errno_text(errno)};
  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
  if (err != 0) return {TryErrc::connect_failed, errno_text(err)};
  return {};
}

int new_socket(int family) {
  return ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

}  // namespace

Connection::~Connection() { close(); }

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      in_(std::move(other.in_)),
      pos_(std::exchange(other.pos_, 0)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    in_ = std::move(other.in_);
    pos_ = std::exchange(other.pos_, 0);
  }
  return *this;
}

void Connection::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
  pos_ = 0;
}

Fault Connection::open(const Endpoint& endpoint, SteadyTime deadline, Connection& out) {
  if (endpoint.is_unix()) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (endpoint.unix_path.size() >= sizeof addr.sun_path) {
      return {TryErrc::connect_failed, "socket path too long"};
    }
    std::memcpy(addr.sun_path, endpoint.unix_path.data(), endpoint.unix_path.size());
    Connection c(new_socket(AF_UNIX));
    if (!c.is_open()) return {TryErrc::connect_failed, errno_text(errno)};
    if (auto f = connect_before(c.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr,
                                deadline)) {
      return f;
    }
    out = std::move(c);
    return {};
  }
  AddrInfoList found;
  if (auto f = resolve(endpoint.host, endpoint.port, deadline, found)) return f;
  Fault last{TryErrc::connect_failed, "no address"};
  for (const addrinfo* a = found.get(); a != nullptr; a = a->ai_next) {
    Connection c(new_socket(a->ai_family));
    if (!c.is_open()) {
      last = {TryErrc::connect_failed, errno_text(errno)};
      continue;
    }
    last = connect_before(c.fd_, a->ai_addr, a->ai_addrlen, deadline);
    if (!last) {
      const int one = 1;
      ::setsockopt(c.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      out = std::move(c);
      break;
    }
    if (last.code == TryErrc::timed_out) break;
  }
  return last;
}

Fault Connection::write_all(std::string_view bytes, SteadyTime deadline) const {
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int ready = wait_for(fd_, POLLOUT, deadline);
      if (ready == 0) return {TryErrc::timed_out, "sending"};
      if (ready < 0) return {TryErrc::io_error, errno_text(errno)};
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      return {TryErrc::closed, errno_text(errno)};
    }
    return {TryErrc::io_error, errno_text(errno)};
  }
  return {};
}

Fault Connection::fill(SteadyTime deadline) {
  if (pos_ > 0) {  // what was consumed goes; the buffer holds one reply at most
    in_.erase(0, pos_);
    pos_ = 0;
  }
  for (;;) {
    const std::size_t old = in_.size();
    in_.resize(old + kReadChunk);
    const auto n = ::recv(fd_, in_.data() + old, kReadChunk, 0);
    in_.resize(old + (n > 0 ? static_cast<std::size_t>(n) : 0));
    if (n > 0) return {};
    if (n == 0) return {TryErrc::closed, "end of stream"};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const int ready = wait_for(fd_, POLLIN, deadline);
      if (ready == 0) return {TryErrc::timed_out, "waiting for the reply"};
      if (ready < 0) return {TryErrc::io_error, errno_text(errno)};
      continue;
    }
    if (errno == ECONNRESET) return {TryErrc::closed, errno_text(errno)};
    return {TryErrc::io_error, errno_text(errno)};
  }
}

Fault Connection::read_line(std::string& line, SteadyTime deadline) {
  for (;;) {
    const auto nl = in_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::size_t end = nl;
      if (end > pos_ && in_[end - 1] == '\r') --end;
      if (end - pos_ > kMaxReplyLineBytes) return {TryErrc::bad_reply, "reply line too long"};
      line.assign(in_, pos_, end - pos_);
      pos_ = nl + 1;
      return {};
    }
    if (in_.size() - pos_ > kMaxReplyLineBytes) return {TryErrc::bad_reply, "reply line too long"};
    if (auto f = fill(deadline)) return f;
  }
}

Fault Connection::read_exact(std::size_t n, std::string& out, SteadyTime deadline) {
  while (in_.size() - pos_ < n) {
    if (auto f = fill(deadline)) return f;
  }
  out.assign(in_, pos_, n);
  pos_ += n;
  return {};
}

}  // namespace katsubushi::client
