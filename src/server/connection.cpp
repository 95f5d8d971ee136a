// A connection's life cycle: made, started, asked to stop or found idle, and
// the one decision of what comes next (see connection_impl.hpp for its states).
#include "server/connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <type_traits>

#include "server/connection_impl.hpp"
#include "server/deadline.hpp"

namespace katsubushi::server {

namespace connection_detail {

namespace asio = boost::asio;

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

template <typename Socket>
Connection<Socket>::Connection(Socket socket, ConnectionSlot slot, session::Protocol protocol,
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

template <typename Socket>
void Connection<Socket>::start(Ptr self) {
  serve_on(std::move(self), Next::answer);
}

template <typename Socket>
void Connection<Socket>::request_stop() {
  advance(State::stopping);
  // Only a read is interrupted; a write in progress is allowed to finish.
  if (wait_ == Wait::read) cancel_io();
}

template <typename Socket>
void Connection<Socket>::force_close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (wait_timer_ != nullptr) wait_timer_->cancel();
}

template <typename Socket>
void Connection<Socket>::check_idle(Clock::time_point now, std::chrono::nanoseconds timeout) {
  // Answering, waiting for ids or lingering: not idle.
  if (wait_ != Wait::read && wait_ != Wait::write) return;
  // Waiting for the socket to take more: a client that took bytes of what
  // the kernel holds since the last look is reading, however slowly; the
  // kernel may not wake the write for seconds (a third of its buffer free).
  if (wait_ == Wait::write && client_took_queued_bytes()) last_progress_ = now;
  if (now < deadline_after(last_progress_, timeout)) return;
  advance(State::idle_expired);
  cancel_io();
}

template <typename Socket>
void Connection<Socket>::wait_for_request(Ptr self) {
  Connection& c = *self;
  c.wait_ = Wait::read;
  c.socket_.async_read_some(asio::buffer(c.own_), ParkedRead{std::move(self)});
}

// Goes on after a read, or at the start: a request answered at once with one
// write (the common case) goes straight back to waiting; a full socket, a
// request waiting for ids and an end that lingers take a coroutine.
template <typename Socket>
void Connection<Socket>::serve_on(Ptr self, Next next) {
  Connection& c = *self;
  if (next == Next::answer) {
    switch (c.write_now()) {
      case Sent::all:
        next = c.after_flush();
        break;
      case Sent::failed:
        next = Next::close;
        break;
      case Sent::blocked:
        break;
    }
  }
  if (next == Next::read) {
    wait_for_request(std::move(self));
  } else if (next == Next::close) {
    c.close();  // `self` ends the connection
  } else {
    const auto executor = c.socket_.get_executor();
    asio::co_spawn(executor, run(std::move(self), next), log_if_failed);
  }
}

// The busy part of a connection's life: waits for the socket to take our
// replies, for the generator's next millisecond, or lingers at the end. Once
// everything owed is sent and nothing is in hand, the connection goes back to
// waiting without a coroutine.
template <typename Socket>
asio::awaitable<void> Connection<Socket>::run(Ptr self, Next next) {
  Connection& c = *self;
  for (;;) {
    switch (next) {
      case Next::answer:
        next = co_await c.flush();
        break;
      case Next::resume:
        next = co_await c.resume();
        break;
      case Next::read:
        wait_for_request(std::move(self));
        co_return;
      case Next::linger:
        co_await c.linger();
        c.close();
        co_return;
      case Next::close:
        c.close();
        co_return;
    }
  }
}

Next next_after_flush(const session::SessionCore& core, State state, bool request_in_hand) {
  if (core.closing()) return state == State::input_ended ? Next::close : Next::linger;
  // The request in hand goes on first, during a stop too.
  if (request_in_hand) return Next::resume;
  switch (state) {
    case State::streaming:
      break;
    case State::stopping:
      return Next::linger;
    case State::input_ended:   // everything it asked is answered
    case State::idle_expired:  // (ends where its wait returns; never here)
      return Next::close;
  }
  if (!core.wants_input()) {
    // With all output sent the core always wants input; if it does not, a
    // read would never be attempted and the loop would spin. End it instead.
    spdlog::error("session neither has output nor wants input: closing the connection");
    return Next::linger;
  }
  return Next::read;
}

}  // namespace connection_detail

template <typename Socket>
void start_connection(Socket socket, ConnectionSlot slot, session::Protocol protocol,
                      ConnectionServices& services, ConnectionRegistry& registry) {
  using connection_detail::Connection;
  Connection<Socket>::start(std::make_unique<Connection<Socket>>(
      std::move(socket), std::move(slot), protocol, services, registry));
}

template void start_connection(TcpSocket, ConnectionSlot, session::Protocol, ConnectionServices&,
                               ConnectionRegistry&);
template void start_connection(UnixSocket, ConnectionSlot, session::Protocol, ConnectionServices&,
                               ConnectionRegistry&);

}  // namespace katsubushi::server
