#include "server/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <variant>

namespace katsubushi::server {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Counts the coroutine from its first step to the destruction of its frame.
class LiveSessionGuard {
 public:
  explicit LiveSessionGuard(ServerCounters& c) : c_(c) {
    c_.live_sessions.fetch_add(1, std::memory_order_relaxed);
  }
  ~LiveSessionGuard() { c_.live_sessions.fetch_sub(1, std::memory_order_relaxed); }
  LiveSessionGuard(const LiveSessionGuard&) = delete;
  LiveSessionGuard& operator=(const LiveSessionGuard&) = delete;

 private:
  ServerCounters& c_;
};

template <typename Socket>
class Connection final : public StoppableConnection {
 public:
  Connection(Socket& socket, asio::steady_timer& timer) : socket_(socket), timer_(timer) {}

  void request_stop() override {
    stop_requested_ = true;
    // Only a read is interrupted; a write in progress is allowed to finish.
    if (reading_) timer_.cancel();
  }
  void force_close() override {
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
  }

  bool stop_requested() const { return stop_requested_; }
  void set_reading(bool r) { reading_ = r; }

 private:
  Socket& socket_;
  asio::steady_timer& timer_;
  bool stop_requested_ = false;
  bool reading_ = false;
};

template <typename Socket>
class RegistryEntry {
 public:
  RegistryEntry(ConnectionRegistry& r, Connection<Socket>& c) : r_(r), c_(c) { r_.add(&c_); }
  ~RegistryEntry() { r_.remove(&c_); }
  RegistryEntry(const RegistryEntry&) = delete;
  RegistryEntry& operator=(const RegistryEntry&) = delete;

 private:
  ConnectionRegistry& r_;
  Connection<Socket>& c_;
};

Clock::time_point deadline_after(std::chrono::nanoseconds idle) {
  if (idle.count() == 0) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(idle);
}

template <typename Socket>
void half_close(Socket& s) {
  boost::system::error_code ignored;
  s.shutdown(Socket::shutdown_send, ignored);
}

// Drains what the peer still sends after our last byte, bounded in time and
// bytes, so closing does not reset the connection under unread replies.
template <typename Socket>
asio::awaitable<void> linger(Socket& socket, asio::steady_timer& timer) {
  half_close(socket);
  timer.expires_after(kLingerTimeout);
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  while (drained < kLingerMaxBytes) {
    auto r = co_await (socket.async_read_some(asio::buffer(sink), use_tuple) ||
                       timer.async_wait(use_tuple));
    if (r.index() == 1) break;
    auto [ec, n] = std::get<0>(r);
    if (ec) break;
    drained += n;
  }
}

}  // namespace

template <typename Socket>
asio::awaitable<void> serve_connection(Socket socket, ConnectionSlot slot,
                                       ConnectionShared& shared, ConnectionRegistry& registry) {
  LiveSessionGuard live(shared.counters);
  asio::steady_timer timer(socket.get_executor());
  proto::SessionCore core(shared.services, shared.limits);
  Connection<Socket> conn(socket, timer);
  RegistryEntry<Socket> entry(registry, conn);

  auto deadline = deadline_after(shared.idle_timeout);
  std::uint64_t completed = 0;
  bool peer_gone = false;  // EOF or error from the peer: nothing to linger for

  for (;;) {
    // Send everything owed before reading more: pipelined requests that
    // arrived together are answered with one write.
    while (!core.output().empty()) {
      timer.expires_at(deadline);
      auto r = co_await (asio::async_write(socket, asio::buffer(core.output()), use_tuple) ||
                         timer.async_wait(use_tuple));
      if (r.index() == 1) {
        // The client stopped reading for a whole idle period.
        shared.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
        peer_gone = true;
        break;
      }
      auto [ec, n] = std::get<0>(r);
      if (ec) {
        peer_gone = true;
        break;
      }
      core.consume_output(n);
      core.process();  // input held back by backpressure
    }
    if (peer_gone || core.closing() || conn.stop_requested()) break;

    if (!core.wants_input()) continue;  // cannot happen with output empty; be safe
    auto space = core.prepare(kReadChunkBytes);
    timer.expires_at(deadline);
    conn.set_reading(true);
    auto r = co_await (socket.async_read_some(asio::buffer(space.data(), space.size()),
                                              use_tuple) ||
                       timer.async_wait(use_tuple));
    conn.set_reading(false);
    if (r.index() == 1) {
      if (conn.stop_requested()) break;
      if (Clock::now() >= deadline) {
        shared.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      continue;
    }
    auto [ec, n] = std::get<0>(r);
    if (ec) {
      peer_gone = true;
      break;
    }
    core.commit(n);
    core.process();
    if (core.completed_requests() != completed) {
      completed = core.completed_requests();
      deadline = deadline_after(shared.idle_timeout);
    }
  }

  if (!peer_gone && socket.is_open()) co_await linger(socket, timer);
  boost::system::error_code ignored;
  socket.close(ignored);
  (void)slot;  // released with the frame
}

template asio::awaitable<void> serve_connection(asio::ip::tcp::socket, ConnectionSlot,
                                                ConnectionShared&, ConnectionRegistry&);
template asio::awaitable<void> serve_connection(asio::local::stream_protocol::socket,
                                                ConnectionSlot, ConnectionShared&,
                                                ConnectionRegistry&);

}  // namespace katsubushi::server
