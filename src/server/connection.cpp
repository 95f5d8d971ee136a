#include "server/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>

#include <array>
#include <exception>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>

#include "config/limits.hpp"
#include "server/deadline.hpp"
#include "server/plain_allocator.hpp"

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

// A busy connection's coroutine that threw: the connection is closed with its
// frame; the thread serves on.
void log_if_failed(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection ended by exception: {}", ex.what());
  } catch (...) {
    spdlog::error("connection ended by unknown exception");
  }
}

bool would_block(const boost::system::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// One connection's socket and session core, and the steps of its loop: send
// what is owed, then read more (or wait for the generator).
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
             ConnectionServices& services, ConnectionRegistry& registry)
      : live_(services.counters),
        slot_(std::move(slot)),
        socket_(std::move(socket)),
        core_(services.session, services.limits, protocol),
        services_(services),
        registry_(registry),
        last_progress_(Clock::now()) {
    // Writes and the reads after a full one are tried at once and must not
    // block the thread.
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    if constexpr (std::is_same_v<Socket, TcpSocket>) {
      // Bounds what a slow reader pins in the kernel: without it the send
      // buffer autotunes to tcp_wmem's maximum (4 MiB) of replies nobody reads yet.
      const int lowat = static_cast<int>(config::kKernelUnsentBytes);
      ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    }
    registry_.add(this);  // may call request_stop() at once, during a shutdown
  }
  ~Connection() { registry_.remove(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves the connection from here on: whoever holds `self` (the read an idle
  // connection waits on, or the coroutine of a busy one) owns it.
  static void start(Ptr self) { serve_on(std::move(self), Step::go_on); }

  void request_stop() override {
    stop_requested_ = true;
    // Only a read is interrupted; a write in progress is allowed to finish.
    if (reading_) cancel_io();
  }
  void force_close() override {
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (wait_timer_ != nullptr) wait_timer_->cancel();
  }
  void check_idle(Clock::time_point now, std::chrono::nanoseconds timeout) override {
    // Answering, or waiting for ids: not idle.
    if (!reading_ && !writing_) return;
    // Waiting for the socket to take more: a client that took bytes of what
    // the kernel holds since the last look is reading, however slowly; the
    // kernel may not wake the write for seconds (a third of its buffer free).
    if (writing_ && client_took_queued_bytes()) last_progress_ = now;
    if (now < deadline_after(last_progress_, timeout)) return;
    idle_expired_ = true;
    cancel_io();
  }

  // Sends everything owed before reading more, so pipelined requests that
  // arrived together are answered with one write. Requests held back by
  // backpressure are answered as the output drains.
  asio::awaitable<Step> flush() {
    for (;;) {
      switch (write_now()) {
        case Sent::all:
          co_return after_flush();
        case Sent::failed:
          co_return Step::peer_gone;
        case Sent::blocked:
          break;
      }
      // The socket is full: wait until the client takes some.
      queued_at_last_look_ = kernel_queued_bytes();
      writing_ = true;
      auto [wait_ec] = co_await socket_.async_wait(Socket::wait_write, use_tuple);
      writing_ = false;
      if (idle_expired_) {
        // The client has not taken a byte of our replies for a whole idle period.
        services_.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
        co_return Step::peer_gone;
      }
      if (wait_ec) co_return Step::peer_gone;
    }
  }

  // Whether the next step is resume() rather than read().
  bool has_request_in_hand() const noexcept {
    return core_.not_before_unix_ms() != 0 || core_.yielded();
  }

  // Goes on with the request in hand: at the time the generator named, on a
  // timer made for the occasion, or after the thread's other connections
  // had their turn.
  asio::awaitable<Step> resume() {
    if (const std::int64_t at = core_.not_before_unix_ms(); at != 0) {
      asio::steady_timer timer(socket_.get_executor(),
                               services_.session.generator.clock().steady_at_unix_ms(at));
      wait_timer_ = &timer;
      co_await timer.async_wait(use_tuple);
      wait_timer_ = nullptr;
    } else {
      co_await asio::post(socket_.get_executor(), asio::use_awaitable);
    }
    if (!socket_.is_open()) co_return Step::peer_gone;  // closed by force meanwhile
    process();
    co_return Step::go_on;
  }

  // Answers what the parked read brought that is complete. Only a complete
  // request counts as progress for the idle timeout: trickled bytes do not
  // keep a connection.
  Step on_read(boost::system::error_code ec, std::size_t n) {
    reading_ = false;
    if (idle_expired_) {
      services_.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
      return Step::finish;
    }
    if (ec == asio::error::operation_aborted) {
      if (stop_requested_) return Step::finish;
      return socket_.is_open() ? Step::go_on : Step::peer_gone;
    }
    if (ec == asio::error::eof) {
      end_input();
      return Step::go_on;
    }
    if (ec) return Step::peer_gone;
    core_.receive_and_process(std::string_view(own_.data(), n));
    note_progress();
    // A full read may have left more behind: take it now, into the thread's
    // buffer, while the session wants it.
    if (n == own_.size()) return read_more();
    return Step::go_on;
  }

  // Drains what the peer still sends after our last byte, bounded in time and
  // bytes, so closing does not reset the connection under unread replies.
  asio::awaitable<void> linger() {
    if (!socket_.is_open()) co_return;
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    asio::steady_timer timer(socket_.get_executor(), config::kLingerTimeout);
    wait_timer_ = &timer;
    std::size_t drained = 0;
    while (drained < config::kLingerMaxBytes && socket_.is_open()) {
      auto r = co_await (socket_.async_wait(Socket::wait_read, use_tuple) ||
                         timer.async_wait(use_tuple));
      if (r.index() == 1) break;
      const auto [wait_ec] = std::get<0>(r);
      if (wait_ec) break;
      const std::span<char> sink = registry_.read_buffer();
      boost::system::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(sink.data(), sink.size()), ec);
      if (would_block(ec)) continue;
      if (ec) break;
      drained += n;
    }
    wait_timer_ = nullptr;
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  enum class Sent { all, blocked, failed };

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

  static void wait_for_request(Ptr self) {
    Connection& c = *self;
    c.reading_ = true;
    c.socket_.async_read_some(asio::buffer(c.own_), ParkedRead{std::move(self)});
  }

  // Goes on after a read, or at the start: a request answered at once with
  // one write (the common case) goes straight back to waiting; a full socket,
  // a request waiting for ids and an end that lingers take a coroutine.
  static void serve_on(Ptr self, Step step) {
    Connection& c = *self;
    if (step == Step::go_on) {
      switch (c.write_now()) {
        case Sent::all:
          step = c.after_flush();
          if (step == Step::go_on && !c.has_request_in_hand()) {
            wait_for_request(std::move(self));
            return;
          }
          break;
        case Sent::failed:
          step = Step::peer_gone;
          break;
        case Sent::blocked:
          break;
      }
    }
    if (step == Step::peer_gone) {
      c.close();
      return;  // `self` ends the connection
    }
    const auto executor = c.socket_.get_executor();
    asio::co_spawn(executor, run(std::move(self), step), log_if_failed);
  }

  // The busy part of a connection's life: waits for the socket to take our
  // replies, for the generator's next millisecond, or lingers at the end.
  // Once everything owed is sent and nothing is in hand, the connection goes
  // back to waiting without a coroutine.
  static asio::awaitable<void> run(Ptr self, Step step) {
    Connection& c = *self;
    while (step == Step::go_on) {
      step = co_await c.flush();
      if (step != Step::go_on) break;
      if (!c.has_request_in_hand()) {
        wait_for_request(std::move(self));
        co_return;
      }
      step = co_await c.resume();
    }
    if (step == Step::finish) co_await c.linger();
    c.close();
  }

  // Writes what is owed without waiting, until the socket is full.
  Sent write_now() {
    while (!core_.output().empty()) {
      boost::system::error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(core_.output()), ec);
      if (would_block(ec)) return Sent::blocked;
      if (ec) return Sent::failed;
      // A client that reads our output is not idle, however slowly it reads.
      last_progress_ = Clock::now();
      core_.consume_output(n);
      if (core_.not_before_unix_ms() == 0) process();
    }
    return Sent::all;
  }

  // What follows once everything owed is sent: go_on (read more, or go on
  // with the request in hand), or the end.
  Step after_flush() {
    if (core_.closing()) return input_ended_ ? Step::peer_gone : Step::finish;
    // The request in hand goes on first, during a stop too.
    if (has_request_in_hand()) return Step::go_on;
    // The peer half-closed and everything it asked is answered: nothing to
    // linger for.
    if (input_ended_) return Step::peer_gone;
    if (stop_requested_) return Step::finish;
    if (!core_.wants_input()) {
      // With all output sent the core always wants input; if it does not, a
      // read would never be attempted and the loop would spin. End it instead.
      spdlog::error("session neither has output nor wants input: closing the connection");
      return Step::finish;
    }
    return Step::go_on;
  }

  void cancel_io() {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }

  // Bytes written to the socket that the client has not taken yet (TCP: not
  // yet acknowledged; unix: not yet read), or -1 when the kernel does not say.
  int kernel_queued_bytes() {
    int queued = 0;
    if (::ioctl(socket_.native_handle(), SIOCOUTQ, &queued) != 0) return -1;
    return queued;
  }

  // Whether the kernel's queue for this socket shrank since the last look.
  bool client_took_queued_bytes() {
    const int queued = kernel_queued_bytes();
    const bool took = queued >= 0 && queued < queued_at_last_look_;
    queued_at_last_look_ = queued;
    return took;
  }

  void process() {
    core_.process();
    note_progress();
  }

  void note_progress() {
    if (core_.completed_requests() != completed_) {
      completed_ = core_.completed_requests();
      last_progress_ = Clock::now();
    }
  }

  // A half-close: answer what was sent, a last line without its "\n"
  // included (as go-katsubushi does), then close.
  void end_input() {
    input_ended_ = true;
    core_.end_of_input();
    process();
  }

  Step read_more() {
    const std::span<char> buffer = registry_.read_buffer();
    while (core_.wants_input()) {
      boost::system::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (would_block(ec)) break;
      if (ec == asio::error::eof) {
        end_input();
        break;
      }
      if (ec) return Step::peer_gone;
      core_.receive_and_process(std::string_view(buffer.data(), n));
      note_progress();
      if (n < buffer.size()) break;
    }
    return Step::go_on;
  }

  LiveSessionGuard live_;
  ConnectionSlot slot_;  // given back last, once the socket is closed
  Socket socket_;
  session::SessionCore core_;
  ConnectionServices& services_;
  ConnectionRegistry& registry_;
  Clock::time_point last_progress_;  // last complete request, or last byte the client took
  asio::steady_timer* wait_timer_ = nullptr;  // the timer of a wait in progress
  std::uint64_t completed_ = 0;
  int queued_at_last_look_ = -1;  // kernel_queued_bytes() while a write waits
  bool stop_requested_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool idle_expired_ = false;  // the sweep found it idle and cancelled its read or write
  bool input_ended_ = false;   // the peer half-closed
  std::array<char, config::kOwnReadBytes> own_{};  // what an idle connection reads into
};

}  // namespace

template <typename Socket>
void start_connection(Socket socket, ConnectionSlot slot, session::Protocol protocol,
                      ConnectionServices& services, ConnectionRegistry& registry) {
  Connection<Socket>::start(std::make_unique<Connection<Socket>>(
      std::move(socket), std::move(slot), protocol, services, registry));
}

template void start_connection(TcpSocket, ConnectionSlot, session::Protocol, ConnectionServices&,
                               ConnectionRegistry&);
template void start_connection(UnixSocket, ConnectionSlot, session::Protocol, ConnectionServices&,
                               ConnectionRegistry&);

}  // namespace katsubushi::server
