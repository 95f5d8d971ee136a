// The Asio shell around one SessionCore: one object per connection owns its
// socket and session, so both end when the connection does. A busy
// connection is driven by a coroutine of its own; an idle one by the read it
// waits on.
//
// What an idle connection holds is kept small: no coroutine frame, no timer
// (idle timeouts come from a per-thread sweep), no input buffer (it reads into
// a small array of its own, then into its thread's buffer; only an unfinished
// line is copied), no output buffer (released once flushed).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>

#include "config/limits.hpp"
#include "session/session.hpp"
#include "server/server_stats.hpp"

namespace katsubushi::server {

// What the server hands every connection it serves.
struct ConnectionServices {
  service::SessionServices session;
  service::SessionLimits limits;
  ServerCounters& counters;
};

// What shutdown and the idle sweep may do to a live connection.
class StopHandle {
  friend class ConnectionRegistry;

 public:
  virtual void request_stop() = 0;  // finish the request in hand, flush, close
  virtual void force_close() = 0;   // close now
  // Closes the connection if it has been idle for `timeout` (non-zero) at `now`.
  virtual void check_idle(std::chrono::steady_clock::time_point now,
                          std::chrono::nanoseconds timeout) = 0;

 protected:
  StopHandle() = default;
  ~StopHandle() = default;
  StopHandle(const StopHandle&) = delete;
  StopHandle& operator=(const StopHandle&) = delete;

 private:
  // The registry's list: two pointers in the connection rather than a node
  // and a bucket of a hash set beside it.
  StopHandle* prev_ = nullptr;
  StopHandle* next_ = nullptr;
};

// What the connections of one io_context share; used only from that
// context's thread: the live connections (for shutdown and the idle sweep)
// and the buffer every read lands in before the session takes what it needs.
//
// request_stop(), force_close() and check_idle() only cancel or close: no
// connection leaves the list while it is walked.
class ConnectionRegistry {
 public:
  ConnectionRegistry() = default;
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;

  void add(StopHandle* c) {
    c->prev_ = nullptr;
    c->next_ = head_;
    if (head_ != nullptr) head_->prev_ = c;
    head_ = c;
    ++size_;
    if (stopping_) c->request_stop();
  }
  void remove(StopHandle* c) {
    if (c->prev_ != nullptr) {
      c->prev_->next_ = c->next_;
    } else {
      head_ = c->next_;
    }
    if (c->next_ != nullptr) c->next_->prev_ = c->prev_;
    c->prev_ = c->next_ = nullptr;
    --size_;
  }
  void stop_all() {
    stopping_ = true;
    for (StopHandle* c = head_; c != nullptr; c = c->next_) c->request_stop();
  }
  void force_close_all() {
    for (StopHandle* c = head_; c != nullptr; c = c->next_) c->force_close();
  }
  void sweep_idle(std::chrono::steady_clock::time_point now, std::chrono::nanoseconds timeout) {
    for (StopHandle* c = head_; c != nullptr; c = c->next_) c->check_idle(now, timeout);
  }
  std::size_t size() const { return size_; }

  // Valid until the thread's next read: a session copies what it keeps.
  std::span<char> read_buffer() {
    if (!read_buffer_) read_buffer_ = std::make_unique<char[]>(config::kThreadReadBufferBytes);
    return {read_buffer_.get(), config::kThreadReadBufferBytes};
  }

 private:
  StopHandle* head_ = nullptr;
  std::size_t size_ = 0;
  bool stopping_ = false;
  std::unique_ptr<char[]> read_buffer_;
};

// The number of open connections (the curr_connections stat), and a way for
// shutdown to hear, on whichever thread closes it, that the last one closed.
class OpenConnections {
 public:
  explicit OpenConnections(std::atomic<std::int64_t>& gauge) : gauge_(gauge) {}

  std::int64_t count() const { return gauge_.load(); }
  void opened() { gauge_.fetch_add(1); }
  void closed() {
    if (gauge_.fetch_sub(1) == 1 && watching_.load()) on_none_left_();
  }
  // From now on `on_none_left` runs each time the count drops to zero; call
  // once, before relying on it. Returns whether none is open already.
  bool watch(std::function<void()> on_none_left) {
    on_none_left_ = std::move(on_none_left);
    watching_.store(true);
    return gauge_.load() == 0;
  }

 private:
  std::atomic<std::int64_t>& gauge_;
  std::function<void()> on_none_left_;
  std::atomic<bool> watching_{false};
};

// One accepted connection's place under -max-connections: taken by the
// acceptor, given back when the connection is destroyed, even if it never got
// to start.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(OpenConnections& open) : open_(&open) { open_->opened(); }
  ConnectionSlot(ConnectionSlot&& o) noexcept : open_(std::exchange(o.open_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (open_ != nullptr) open_->closed();
  }

 private:
  OpenConnections* open_;
};

// Serves one connection until it ends; call on the thread of the socket's
// io_context. `protocol`: undecided to sniff it from the first bytes (the main
// port), http for every connection of -http-port. The connection owns its
// socket, session and slot, and is owned in turn by whatever it waits on: the
// read of an idle connection, or the coroutine of a busy one.
using TcpSocket = boost::asio::ip::tcp::socket::rebind_executor<
    boost::asio::io_context::executor_type>::other;
using UnixSocket = boost::asio::local::stream_protocol::socket::rebind_executor<
    boost::asio::io_context::executor_type>::other;

template <typename Socket>
void start_connection(Socket socket, ConnectionSlot slot, session::Protocol protocol,
                      ConnectionServices& services, ConnectionRegistry& registry);

extern template void start_connection(TcpSocket, ConnectionSlot, session::Protocol,
                                      ConnectionServices&, ConnectionRegistry&);
extern template void start_connection(UnixSocket, ConnectionSlot, session::Protocol,
                                      ConnectionServices&, ConnectionRegistry&);

}  // namespace katsubushi::server
