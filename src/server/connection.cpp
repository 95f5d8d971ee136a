#include "server/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <variant>

#include "config/limits.hpp"
#include "server/deadline.hpp"

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

// How a step of the connection loop left it.
enum class Step {
  go_on,      // read or write more
  finish,     // we end it: half-close and linger so the last replies arrive
  peer_gone,  // the peer closed or failed, or stopped reading: just close
};

// One connection's socket, idle timer and session core, and the two steps of
// its loop: send what is owed, then read more.
template <typename Socket>
class Connection final : public StopHandle {
 public:
  Connection(Socket socket, proto::Protocol protocol, ConnectionServices& services)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        core_(services.session, services.limits, protocol),
        services_(services),
        last_progress_(Clock::now()) {}

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

  // Sends everything owed before reading more, so pipelined requests that
  // arrived together are answered with one write. Requests held back by
  // backpressure are answered as the output drains.
  asio::awaitable<Step> flush() {
    while (!core_.output().empty()) {
      timer_.expires_at(idle_deadline());
      auto r = co_await (socket_.async_write_some(asio::buffer(core_.output()), use_tuple) ||
                         timer_.async_wait(use_tuple));
      if (r.index() == 1) {
        if (Clock::now() < idle_deadline()) continue;
        // The client has not taken a byte of our replies for a whole idle period.
        services_.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
        co_return Step::peer_gone;
      }
      auto [ec, n] = std::get<0>(r);
      if (ec) co_return Step::peer_gone;
      // A client that reads our output is not idle, however slowly it reads.
      last_progress_ = Clock::now();
      core_.consume_output(n);
      core_.process();
    }
    // The peer half-closed and everything it asked is answered: nothing to
    // linger for.
    if (input_ended_) co_return Step::peer_gone;
    if (core_.closing() || stop_requested_) co_return Step::finish;
    if (!core_.wants_input()) {
      // With all output sent the core always wants input; if it does not, a
      // read would never be attempted and the loop would spin. End it instead.
      spdlog::error("session neither has output nor wants input: closing the connection");
      co_return Step::finish;
    }
    co_return Step::go_on;
  }

  // Reads once and answers what is complete. Only a complete request counts
  // as progress for the idle timeout: trickled bytes do not keep a connection.
  asio::awaitable<Step> read() {
    auto space = core_.prepare(config::kReadChunkBytes);
    timer_.expires_at(idle_deadline());
    reading_ = true;
    auto r = co_await (socket_.async_read_some(asio::buffer(space.data(), space.size()),
                                               use_tuple) ||
                       timer_.async_wait(use_tuple));
    reading_ = false;
    if (r.index() == 1) {
      if (stop_requested_) co_return Step::finish;
      if (Clock::now() >= idle_deadline()) {
        services_.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
        co_return Step::finish;
      }
      co_return Step::go_on;
    }
    auto [ec, n] = std::get<0>(r);
    if (ec == asio::error::eof) {
      // A half-close: answer what was sent, a last line without its "\n"
      // included (as go-katsubushi does), then close.
      input_ended_ = true;
      core_.end_of_input();
      core_.process();
      co_return Step::go_on;
    }
    if (ec) co_return Step::peer_gone;
    core_.commit(n);
    core_.process();
    if (core_.completed_requests() != completed_) {
      completed_ = core_.completed_requests();
      last_progress_ = Clock::now();
    }
    co_return Step::go_on;
  }

  // Drains what the peer still sends after our last byte, bounded in time and
  // bytes, so closing does not reset the connection under unread replies.
  asio::awaitable<void> linger() {
    if (!socket_.is_open()) co_return;
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    timer_.expires_after(config::kLingerTimeout);
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    while (drained < config::kLingerMaxBytes) {
      auto r = co_await (socket_.async_read_some(asio::buffer(sink), use_tuple) ||
                         timer_.async_wait(use_tuple));
      if (r.index() == 1) break;
      auto [ec, n] = std::get<0>(r);
      if (ec) break;
      drained += n;
    }
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  Clock::time_point idle_deadline() const {
    return deadline_after(last_progress_, services_.idle_timeout);
  }

  Socket socket_;
  asio::steady_timer timer_;
  proto::SessionCore core_;
  ConnectionServices& services_;
  Clock::time_point last_progress_;  // last complete request, or last byte the client took
  std::uint64_t completed_ = 0;
  bool stop_requested_ = false;
  bool reading_ = false;
  bool input_ended_ = false;  // the peer half-closed
};

// Keeps a connection in its thread's registry for as long as it lives.
class RegistryEntry {
 public:
  RegistryEntry(ConnectionRegistry& r, StopHandle& c) : r_(r), c_(c) { r_.add(&c_); }
  ~RegistryEntry() { r_.remove(&c_); }
  RegistryEntry(const RegistryEntry&) = delete;
  RegistryEntry& operator=(const RegistryEntry&) = delete;

 private:
  ConnectionRegistry& r_;
  StopHandle& c_;
};

}  // namespace

template <typename Socket>
asio::awaitable<void> serve_connection(Socket socket, ConnectionSlot slot,
                                       proto::Protocol protocol, ConnectionServices& services,
                                       ConnectionRegistry& registry) {
  LiveSessionGuard live(services.counters);
  Connection<Socket> conn(std::move(socket), protocol, services);
  RegistryEntry entry(registry, conn);

  Step step = Step::go_on;
  while (step == Step::go_on) {
    step = co_await conn.flush();
    if (step == Step::go_on) step = co_await conn.read();
  }
  if (step == Step::finish) co_await conn.linger();
  conn.close();
  (void)slot;  // released with the frame
}

template asio::awaitable<void> serve_connection(asio::ip::tcp::socket, ConnectionSlot,
                                                proto::Protocol, ConnectionServices&,
                                                ConnectionRegistry&);
template asio::awaitable<void> serve_connection(asio::local::stream_protocol::socket,
                                                ConnectionSlot, proto::Protocol,
                                                ConnectionServices&, ConnectionRegistry&);

}  // namespace katsubushi::server
