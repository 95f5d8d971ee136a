#include "bench/tcp_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace katsubushi::bench {

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) close(fd_);
}

int Socket::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

Socket connect_tcp(const std::string& host, std::uint16_t port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return {};
  }
  error = "no address for " + host;
  const std::string target = host + " port " + service;
  Socket s;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Socket candidate(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (candidate.fd() < 0) {
      error = system_error("socket", errno);
      continue;
    }
    if (connect(candidate.fd(), a->ai_addr, a->ai_addrlen) != 0) {
      error = system_error("connect to " + target, errno);
      continue;
    }
    s = std::move(candidate);
    break;
  }
  freeaddrinfo(found);
  if (s.fd() < 0) return s;
  error.clear();
  const int one = 1;
  setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{};
  timeout.tv_sec = kReplyTimeout.count();
  setsockopt(s.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return s;
}

std::string send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error("send", errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

char* ReceiveBuffer::room() noexcept {
  // Little room left: move the unconsumed bytes (an unfinished reply) to the
  // front, rather than receive a few bytes per call.
  constexpr std::size_t kLittleRoom = 4096;
  if (head_ > 0 && bytes_.size() - tail_ < kLittleRoom) {
    std::memmove(bytes_.data(), bytes_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  return bytes_.data() + tail_;
}

void ReceiveBuffer::consumed(std::size_t n) noexcept {
  head_ += n;
  if (head_ == tail_) head_ = tail_ = 0;
}

std::string receive(int fd, ReceiveBuffer& in) {
  char* at = in.room();
  if (in.room_size() == 0) {
    return "a reply item over " + std::to_string(kReceiveBufferBytes) + " bytes";
  }
  for (;;) {
    const ssize_t n = recv(fd, at, in.room_size(), 0);
    if (n > 0) {
      in.received(static_cast<std::size_t>(n));
      return {};
    }
    if (n == 0) return "connection closed by the server";
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return "no reply within " + std::to_string(kReplyTimeout.count()) + " s";
    }
    return system_error("recv", errno);
  }
}

std::string system_error(std::string_view what, int err) {
  std::string text(what);
  text += ": ";
  text += std::system_category().message(err);
  return text;
}

std::string malformed_reply(std::string_view line) {
  constexpr std::size_t kShown = 80;
  return "malformed reply: \"" + std::string(line.substr(0, kShown)) +
         (line.size() > kShown ? "..." : "") + "\"";
}

}  // namespace katsubushi::bench
