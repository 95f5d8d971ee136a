// One blocking socket to one server with a deadline on every step: connect,
// write, and buffered reads of lines and byte counts. Non-blocking under the
// hood, waiting with poll(), so no step outlives its deadline (name lookup
// included: resolve.hpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "client/clock.hpp"
#include "client/server_address.hpp"
#include "client/transport.hpp"

namespace katsubushi::client {

// The longest line a reply may have (a memcached VALUE line, an HTTP header).
inline constexpr std::size_t kMaxReplyLineBytes = 8192;

class Connection {
 public:
  Connection() = default;
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to `endpoint` before `deadline`.
  static Fault open(const Endpoint& endpoint, SteadyTime deadline, Connection& out);

  bool is_open() const noexcept { return fd_ >= 0; }
  Fault write_all(std::string_view bytes, SteadyTime deadline) const;
  // One line without its "\r\n" (or bare "\n"), at most kMaxReplyLineBytes.
  Fault read_line(std::string& line, SteadyTime deadline);
  // Exactly `n` bytes.
  Fault read_exact(std::size_t n, std::string& out, SteadyTime deadline);
  // Whether bytes arrived that no reply asked for (then the connection is
  // not reused: the stream is out of step).
  bool has_unread() const noexcept { return pos_ < in_.size(); }

 private:
  explicit Connection(int fd) noexcept : fd_(fd) {}
  Fault fill(SteadyTime deadline);
  void close() noexcept;

  int fd_ = -1;
  std::string in_;
  std::size_t pos_ = 0;
};

}  // namespace katsubushi::client
