// The client side of a load run: blocking TCP sockets, and a receive buffer
// that keeps what the reply parser has not consumed yet.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/reply_parser.hpp"

namespace katsubushi::bench {

// A reply item (a line, or a VALUE line with its data) must fit in here.
inline constexpr std::size_t kReceiveBufferBytes = std::size_t{64} * 1024;
// A server that answers nothing for this long has hung: the run fails.
inline constexpr std::chrono::seconds kReplyTimeout{10};

// An open socket, closed on destruction.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  int fd() const noexcept { return fd_; }
  int release() noexcept;

 private:
  int fd_ = -1;
};

// A connected TCP socket with TCP_NODELAY and a kReplyTimeout receive
// timeout, or an empty Socket and `error` set.
Socket connect_tcp(const std::string& host, std::uint16_t port, std::string& error);

// Writes all of `bytes`; an error message, empty on success.
std::string send_all(int fd, std::string_view bytes);

// Bytes received and not yet consumed: [head, tail) of a fixed buffer.
class ReceiveBuffer {
 public:
  ReceiveBuffer() : bytes_(kReceiveBufferBytes) {}

  std::string_view pending() const noexcept { return {bytes_.data() + head_, tail_ - head_}; }
  // Room after the pending bytes, made by moving them to the front if need
  // be; empty when a single item fills the whole buffer.
  char* room() noexcept;
  std::size_t room_size() const noexcept { return bytes_.size() - tail_; }
  void received(std::size_t n) noexcept { tail_ += n; }
  void consumed(std::size_t n) noexcept;

 private:
  std::vector<char> bytes_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

// Reads and parses until `sink` has seen `replies` replies (blocking). An
// error message, empty on success.
template <class Sink>
std::string await_replies(int fd, ReceiveBuffer& in, std::size_t replies, Sink& sink);

// One blocking receive into `in`: an error message ("closed by the server",
// a timeout, a reply item over the buffer), empty on success.
std::string receive(int fd, ReceiveBuffer& in);

// "<what>: <the system's words for err>" (thread-safe, unlike strerror).
std::string system_error(std::string_view what, int err);

// "malformed reply: <line>".
std::string malformed_reply(std::string_view line);

template <class Sink>
std::string await_replies(int fd, ReceiveBuffer& in, std::size_t replies, Sink& sink) {
  // Counts the replies on the way to `sink`.
  struct Counting {
    Sink& inner;
    std::size_t seen = 0;
    void on_value(std::string_view data) { inner.on_value(data); }
    void on_reply(ReplyEnd end) {
      ++seen;
      inner.on_reply(end);
    }
  } counting{sink};
  while (counting.seen < replies) {
    const ParseResult r = parse_replies(in.pending(), counting);
    in.consumed(r.consumed);
    if (r.status != ParseStatus::ok) return malformed_reply(r.bad_line);
    if (counting.seen >= replies) break;
    if (std::string error = receive(fd, in); !error.empty()) return error;
  }
  return {};
}

}  // namespace katsubushi::bench
