// The Connection class template behind start_connection(): its life cycle in
// connection.cpp, its reads, writes and waits in connection_io.cpp. Private
// to those two files.
//
// Its life is one State, which only moves forward (a later event never undoes
// an earlier one; each state is reachable from every earlier one):
//
//   streaming ──> stopping ──> input_ended ──> idle_expired
//
//   streaming     reads requests and answers them.
//   stopping      shutdown asked: the request in hand is finished and
//                 answered, then it ends, lingering.
//   input_ended   the peer half-closed: what it sent is answered, then it
//                 closes at once (nothing to linger for).
//   idle_expired  the sweep found its read or write idle and cancelled it:
//                 counted as an idle kick, and it ends when that wait returns.
//
// Beside it, `wait_` names the one operation it is parked on (read, write,
// ids, linger; none while it runs): what the sweep and a stop may cancel.
// Reads are enabled in one place only, after_flush(): everything owed is
// sent, no request is in hand, and the state is streaming. (mcrouter's
// McServerSession has a pause mask beside its state; here nothing but that
// one decision pauses reads, so it would only mirror the session core.)
//
// Each step says what comes Next: answer (send what is owed, then
// after_flush() decides), read, resume, linger or close.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>

#include "config/limits.hpp"
#include "server/connection.hpp"
#include "server/plain_allocator.hpp"

namespace katsubushi::server::connection_detail {

using Clock = std::chrono::steady_clock;

// Counts the connection from its making to its destruction, whatever it waits
// on (the live_sessions stat).
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

// A connection's life and its next step: the Asio connection's and the
// io_uring one's (uring_connection.cpp) alike.
enum class State : std::uint8_t { streaming, stopping, input_ended, idle_expired };
enum class Next : std::uint8_t {
  answer,  // send what is owed, then after_flush() decides
  read,    // park on a read: nothing owed, nothing in hand
  resume,  // go on with the request in hand
  linger,  // we end it: half-close and linger so the last replies arrive
  close,   // the peer closed or failed, or stopped reading: just close
};

// What follows once everything owed is sent: the only place that decides to
// read. `request_in_hand`: the core has more to do for the request it holds
// (it waits for ids, or yielded).
Next next_after_flush(const session::SessionCore& core, State state, bool request_in_hand);

// One connection's socket and session core, and the steps of its life.
//
// The hot path is one read, one write and one wait in the event loop per
// request: no timer is armed per operation (the thread's idle sweep looks at
// last_progress_), and replies are written at once, without a trip through
// the event loop, unless the socket is full.
template <typename Socket>
class Connection final : public StopHandle {
 public:
  using Ptr = std::unique_ptr<Connection>;

  Connection(Socket socket, ConnectionSlot slot, session::Protocol protocol,
             ConnectionServices& services, ConnectionRegistry& registry);
  ~Connection() { registry_.remove(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves the connection from here on: whoever holds `self` (the read an idle
  // connection waits on, or the coroutine of a busy one) owns it.
  static void start(Ptr self);

  void request_stop() override;
  void force_close() override;
  void check_idle(Clock::time_point now, std::chrono::nanoseconds timeout) override;

 private:
  enum class Wait : std::uint8_t { none, read, write, ids, linger };
  enum class Sent : std::uint8_t { all, blocked, failed };

  // The read an idle connection waits on: it holds the connection and nothing
  // else (no coroutine frame), so an idle connection costs its own object,
  // this small operation and the reactor's record of its socket.
  struct ParkedRead {
    Ptr self;
    // Made at its own size, not from Asio's per-thread block cache (see
    // PlainAllocator).
    using allocator_type = PlainAllocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }
    void operator()(const boost::system::error_code& ec, std::size_t n) {
      Connection& c = *self;
      serve_on(std::move(self), c.on_read(ec, n));
    }
  };

  void advance(State to) { state_ = std::max(state_, to); }

  // connection.cpp: the life cycle.
  static void wait_for_request(Ptr self);
  static void serve_on(Ptr self, Next next);
  static boost::asio::awaitable<void> run(Ptr self, Next next);
  Next after_flush() { return next_after_flush(core_, state_, has_request_in_hand()); }
  // Whether the next step is resume() rather than a read.
  bool has_request_in_hand() const noexcept {
    return turn_over_ || core_.not_before_unix_ms() != 0 || core_.yielded();
  }

  // connection_io.cpp: the steps that read, write and wait.
  Next on_read(boost::system::error_code ec, std::size_t n);
  Next read_more();
  void end_input();
  Sent write_now();
  boost::asio::awaitable<Next> flush();
  boost::asio::awaitable<Next> resume();
  boost::asio::awaitable<void> linger();
  bool client_took_queued_bytes();
  void close();
  void cancel_io();
  void process();
  void note_progress();

  LiveSessionGuard live_;
  ConnectionSlot slot_;  // given back last, once the socket is closed
  Socket socket_;
  session::SessionCore core_;
  ConnectionServices& services_;
  ConnectionRegistry& registry_;
  Clock::time_point last_progress_;  // last complete request, or last byte the client took
  boost::asio::steady_timer* wait_timer_ = nullptr;  // the timer of a wait in progress
  std::uint64_t completed_ = 0;
  int queued_at_last_look_ = -1;  // kernel_queued_bytes() while a write waits
  State state_ = State::streaming;
  Wait wait_ = Wait::none;
  // write_now() stopped making replies at the end of its turn; resume() goes on.
  bool turn_over_ = false;
  std::array<char, config::kOwnReadBytes> own_{};  // what an idle connection reads into
};

// Bytes written to the socket that the client has not taken yet (TCP: not
// yet acknowledged; unix: not yet read), or -1 when the kernel does not say.
int kernel_queued_bytes(int fd);

// A busy connection's coroutine that threw: the connection is closed with its
// frame; the thread serves on.
void log_if_failed(const std::exception_ptr& e);

}  // namespace katsubushi::server::connection_detail
