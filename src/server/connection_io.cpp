// A connection's steps that read, write and wait: answering what a read
// brought, writing without waiting until the socket is full, waiting for the
// socket or for ids, and lingering at the end.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <span>
#include <string_view>
#include <variant>

#include "server/connection_impl.hpp"

namespace katsubushi::server::connection_detail {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool would_block(const boost::system::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace

int kernel_queued_bytes(int fd) {
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0) return -1;
  return queued;
}

// Answers what the parked read brought that is complete. Only a complete
// request counts as progress for the idle timeout: trickled bytes do not keep
// a connection.
template <typename Socket>
auto Connection<Socket>::on_read(boost::system::error_code ec, std::size_t n) -> Next {
  wait_ = Wait::none;
  if (state_ == State::idle_expired) {
    services_.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
    return Next::linger;
  }
  if (ec == asio::error::operation_aborted) {
    if (state_ == State::stopping) return Next::linger;
    return socket_.is_open() ? Next::answer : Next::close;
  }
  if (ec == asio::error::eof) {
    end_input();
    return Next::answer;
  }
  if (ec) return Next::close;
  core_.receive_and_process(std::string_view(own_.data(), n));
  note_progress();
  // A full read may have left more behind: take it now, into the thread's
  // buffer, while the session wants it.
  if (n == own_.size()) return read_more();
  return Next::answer;
}

template <typename Socket>
auto Connection<Socket>::read_more() -> Next {
  const std::span<char> buffer = registry_.read_buffer();
  // At most a turn's worth: a client sending megabytes (a 2 M-key get's
  // line) is read a turn at a time, and the thread's other connections are
  // answered in between (the next read is a parked one, whose completion
  // waits its turn in the loop's queue).
  std::size_t budget = config::kReadBytesPerTurn;
  while (core_.wants_input() && budget > 0) {
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (would_block(ec)) break;
    if (ec == asio::error::eof) {
      end_input();
      break;
    }
    if (ec) return Next::close;
    core_.receive_and_process(std::string_view(buffer.data(), n));
    note_progress();
    if (n < buffer.size()) break;
    budget -= std::min(budget, n);
  }
  return Next::answer;
}

// A half-close: answer what was sent, a last line without its "\n" included
// (as go-katsubushi does), then close.
template <typename Socket>
void Connection<Socket>::end_input() {
  advance(State::input_ended);
  core_.end_of_input();
  process();
}

// Writes what is owed without waiting, until the socket is full, making
// more replies as the output drains, for one turn's worth of bytes: a
// client that reads as fast as we write (a 2 M-key get) would otherwise
// hold the thread until its request is done, and the thread's other
// connections with it. Past the turn, what is made is still written, and
// resume() goes on after the others had their turn.
template <typename Socket>
auto Connection<Socket>::write_now() -> Sent {
  std::size_t written = 0;
  while (!core_.output().empty()) {
    boost::system::error_code ec;
    const std::size_t n = socket_.write_some(asio::buffer(core_.output()), ec);
    if (would_block(ec)) return Sent::blocked;
    if (ec) return Sent::failed;
    // A client that reads our output is not idle, however slowly it reads.
    last_progress_ = Clock::now();
    core_.consume_output(n);
    written += n;
    if (core_.not_before_unix_ms() != 0) continue;
    if (written < config::kWriteBytesPerTurn) {
      process();
    } else {
      turn_over_ = true;
    }
  }
  return Sent::all;
}

// Sends everything owed before reading more, so pipelined requests that
// arrived together are answered with one write. Requests held back by
// backpressure are answered as the output drains.
template <typename Socket>
auto Connection<Socket>::flush() -> asio::awaitable<Next> {
  for (;;) {
    switch (write_now()) {
      case Sent::all:
        co_return after_flush();
      case Sent::failed:
        co_return Next::close;
      case Sent::blocked:
        break;
    }
    // The socket is full: wait until the client takes some.
    queued_at_last_look_ = kernel_queued_bytes(socket_.native_handle());
    wait_ = Wait::write;
    auto [wait_ec] = co_await socket_.async_wait(Socket::wait_write, use_tuple);
    wait_ = Wait::none;
    if (state_ == State::idle_expired) {
      // The client has not taken a byte of our replies for a whole idle period.
      services_.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
      co_return Next::close;
    }
    if (wait_ec) co_return Next::close;
  }
}

// Goes on with the request in hand: at the time the generator named, on a
// timer made for the occasion, or after the thread's other connections had
// their turn.
template <typename Socket>
auto Connection<Socket>::resume() -> asio::awaitable<Next> {
  wait_ = Wait::ids;
  if (const std::int64_t at = core_.not_before_unix_ms(); at != 0) {
    asio::steady_timer timer(socket_.get_executor(),
                             services_.session.generator.clock().steady_at_unix_ms(at));
    wait_timer_ = &timer;
    co_await timer.async_wait(use_tuple);
    wait_timer_ = nullptr;
  } else {
    co_await asio::post(socket_.get_executor(), asio::use_awaitable);
  }
  wait_ = Wait::none;
  turn_over_ = false;
  if (!socket_.is_open()) co_return Next::close;  // closed by force meanwhile
  process();
  co_return Next::answer;
}

// Drains what the peer still sends after our last byte, bounded in time and
// bytes, so closing does not reset the connection under unread replies.
template <typename Socket>
asio::awaitable<void> Connection<Socket>::linger() {
  if (!socket_.is_open()) co_return;
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
  asio::steady_timer timer(socket_.get_executor(), config::kLingerTimeout);
  wait_timer_ = &timer;
  wait_ = Wait::linger;
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
  wait_ = Wait::none;
  wait_timer_ = nullptr;
}

template <typename Socket>
void Connection<Socket>::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

template <typename Socket>
void Connection<Socket>::cancel_io() {
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

// Whether the kernel's queue for this socket shrank since the last look.
template <typename Socket>
bool Connection<Socket>::client_took_queued_bytes() {
  const int queued = kernel_queued_bytes(socket_.native_handle());
  const bool took = queued >= 0 && queued < queued_at_last_look_;
  queued_at_last_look_ = queued;
  return took;
}

template <typename Socket>
void Connection<Socket>::process() {
  core_.process();
  note_progress();
}

template <typename Socket>
void Connection<Socket>::note_progress() {
  if (core_.completed_requests() != completed_) {
    completed_ = core_.completed_requests();
    last_progress_ = Clock::now();
  }
}

// The steps defined here, for both kinds of socket; connection.cpp makes the
// rest where it starts a connection.
template class Connection<TcpSocket>;
template class Connection<UnixSocket>;

}  // namespace katsubushi::server::connection_detail
