// The Asio shell around one SessionCore: one coroutine per connection owns
// its socket, timer and buffers, so all of them end when the connection does.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <cstddef>
#include <unordered_set>
#include <utility>

#include "proto/session.hpp"
#include "server/server_stats.hpp"

namespace katsubushi::server {

// Bytes asked of the socket per read.
inline constexpr std::size_t kReadChunkBytes = 16 * 1024;
// After our last reply we half-close and drain what the client still sends,
// for at most this long, so the kernel does not answer it with a reset that
// could destroy replies the client has not read yet.
inline constexpr std::chrono::milliseconds kLingerTimeout{1000};
inline constexpr std::size_t kLingerMaxBytes = 1024 * 1024;

struct ConnectionShared {
  proto::SessionServices services;
  proto::SessionLimits limits;
  std::chrono::nanoseconds idle_timeout;  // 0 = never
  ServerCounters& counters;
};

// What shutdown may do to a live connection.
class StoppableConnection {
 public:
  virtual void request_stop() = 0;  // finish the request in hand, flush, close
  virtual void force_close() = 0;   // close now
 protected:
  ~StoppableConnection() = default;
};

// The live connections of one io_context; used only from that context's thread.
class ConnectionRegistry {
 public:
  void add(StoppableConnection* c) {
    live_.insert(c);
    if (stopping_) c->request_stop();
  }
  void remove(StoppableConnection* c) { live_.erase(c); }
  void stop_all() {
    stopping_ = true;
    for (auto* c : live_) c->request_stop();
  }
  void force_close_all() {
    for (auto* c : live_) c->force_close();
  }
  std::size_t size() const { return live_.size(); }

 private:
  std::unordered_set<StoppableConnection*> live_;
  bool stopping_ = false;
};

// One accepted connection's place under -max-connections: taken by the
// acceptor, given back when the connection's coroutine frame is destroyed,
// even if the coroutine never got to run.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(ServerCounters& c) : c_(&c) {
    c_->curr_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (c_ != nullptr) c_->curr_connections.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  ServerCounters* c_;
};

template <typename Socket>
boost::asio::awaitable<void> serve_connection(Socket socket, ConnectionSlot slot,
                                              ConnectionShared& shared,
                                              ConnectionRegistry& registry);

extern template boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket,
                                                              ConnectionSlot, ConnectionShared&,
                                                              ConnectionRegistry&);
extern template boost::asio::awaitable<void> serve_connection(
    boost::asio::local::stream_protocol::socket, ConnectionSlot, ConnectionShared&,
    ConnectionRegistry&);

}  // namespace katsubushi::server
