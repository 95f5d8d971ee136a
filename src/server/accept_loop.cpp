// Every listener's accept loop: count, turn away what -max-connections does
// not allow, and hand the rest to a serving thread (or to gRPC).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "config/limits.hpp"
#include "session/refusal.hpp"
#include "server/plain_allocator.hpp"
#include "server/server.hpp"
#include "server/uring_connection.hpp"

namespace katsubushi::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool is_resource_shortage(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space ||
         ec == boost::system::errc::not_enough_memory;
}

}  // namespace

template <typename Socket>
void Server::reject(Socket& socket, std::string_view why) {
  counters_.rejected_connections.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  if (!why.empty()) {
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(why), ec);
  }
  socket.shutdown(Socket::shutdown_both, ec);
  socket.close(ec);
  std::uint64_t suppressed = 0;
  if (reject_log_.allow(suppressed)) {
    spdlog::warn("refused a connection: {} connections open (-max-connections {}); {} more "
                 "refusals not logged",
                 open_connections_.count(), config_.max_connections, suppressed);
  }
}

void Server::log_accept_error(const std::string& what) {
  counters_.accept_errors.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t suppressed = 0;
  if (accept_error_log_.allow(suppressed)) {
    spdlog::warn("accept failed: {}; {} more failures not logged", what, suppressed);
  }
}

// Every listener's loop: accept into the context `pick()` names, count, turn
// away what -max-connections does not allow (with `why`, if the protocol has
// a way to say it), hand the rest to `serve`. Out of fds or memory, it backs
// off instead of spinning; connections already open are served meanwhile.
template <typename Acceptor, typename Pick, typename Serve>
asio::awaitable<void> Server::accept_connections(Acceptor& acceptor, std::string_view why,
                                                 Pick pick, Serve serve) {
  asio::steady_timer backoff(acceptor.get_executor());
  while (!stopping_.load()) {
    bool back_off = false;
    try {
      auto [ec, accepted] = co_await acceptor.async_accept(pick(), use_tuple);
      if (ec == asio::error::operation_aborted || stopping_.load()) break;
      if (ec) {
        log_accept_error(ec.message());
        back_off = is_resource_shortage(ec);
      } else {
        counters_.total_connections.fetch_add(1, std::memory_order_relaxed);
        // Bound to its io_context's own executor type: a socket and every
        // operation on it are smaller than with the polymorphic executor.
        auto socket = std::move(accepted);
        if (open_connections_.count() >= static_cast<std::int64_t>(config_.max_connections)) {
          reject(socket, why);
          continue;
        }
        if constexpr (std::is_same_v<typename Acceptor::protocol_type, tcp>) {
          boost::system::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
        }
        serve(std::move(socket));
      }
    } catch (const std::exception& e) {
      // Starting a connection can fail (memory); the listener must not.
      log_accept_error(e.what());
      back_off = true;
    }
    if (back_off) {
      backoff.expires_after(config::kAcceptBackoff);
      co_await backoff.async_wait(use_tuple);
    }
  }
}

namespace {

// An accepted fd on its way to a serving UringLoop; closed here if the loop
// never takes it (it ended first).
struct Handoff {
  int fd;
  bool tcp;
  ConnectionSlot slot;
  Handoff(int f, bool t, ConnectionSlot s) : fd(f), tcp(t), slot(std::move(s)) {}
  ~Handoff() {
    if (fd >= 0) ::close(fd);
  }
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;
};

}  // namespace

template <typename Socket>
void Server::hand_to_uring_loop(Worker& w, Socket socket, ConnectionSlot slot,
                                session::Protocol protocol) {
  boost::system::error_code ec;
  const int fd = socket.release(ec);
  if (ec) {
    log_accept_error("taking an accepted socket from Asio: " + ec.message());
    return;  // the slot is given back; the socket, if still open, closes with it
  }
  auto handoff = std::make_shared<Handoff>(fd, std::is_same_v<Socket, TcpSocket>, std::move(slot));
  w.post([this, &w, protocol, handoff] {
    const int taken = std::exchange(handoff->fd, -1);
    start_uring_connection(taken, handoff->tcp, std::move(handoff->slot), protocol, *w.shell);
  });
}

template <typename Acceptor>
asio::awaitable<void> Server::accept_loop(Acceptor& acceptor, session::Protocol protocol) {
  Worker* next = nullptr;
  co_await accept_connections(
      acceptor, session::too_many_connections_reply(protocol),
      [this, &next]() -> asio::io_context& {
        next = workers_[1 + next_worker_.fetch_add(1, std::memory_order_relaxed) %
                                (workers_.size() - 1)]
                   .get();
        // A UringLoop takes the bare fd: accepted on the control loop.
        return next->loop ? workers_[0]->io : next->io;
      },
      [this, &next, protocol](auto socket) {
        ConnectionSlot slot(open_connections_);
        // The connection is made on its own thread, so its memory comes
        // from that thread's heap.
        Worker& w = *next;
        if (w.loop) {
          hand_to_uring_loop(w, std::move(socket), std::move(slot), protocol);
          return;
        }
        // A plain allocation (see PlainAllocator): blocks of this thread's
        // cache do not move to the serving thread's.
        asio::post(w.io, asio::bind_allocator(
                             PlainAllocator<void>(),
                             [this, &w, protocol, socket = std::move(socket),
                              slot = std::move(slot)]() mutable {
                               start_connection(std::move(socket), std::move(slot), protocol,
                                                connection_services_, w.registry);
                             }));
      });
}

asio::awaitable<void> Server::grpc_accept_loop() {
  // gRPC has no line to say why it is turned away: the client sees the
  // connection closed.
  co_await accept_connections(
      listeners_.grpc_acceptor, "",
      [this]() -> asio::io_context& {
        grpc_->reap();  // a slot gRPC freed since the last sweep counts now
        return workers_[0]->io;
      },
      [this](TcpSocket socket) {
        if (!grpc_->adopt(std::move(socket))) {
          log_accept_error("preparing a gRPC connection failed");
        }
      });
}

void Server::start_accepting() {
  auto& control = workers_[0]->io;
  if (listeners_.unix_acceptor.is_open()) {
    asio::co_spawn(control, accept_loop(listeners_.unix_acceptor, session::Protocol::undecided),
                   asio::detached);
  } else {
    asio::co_spawn(control, accept_loop(listeners_.tcp_acceptor, session::Protocol::undecided),
                   asio::detached);
  }
  if (listeners_.http_acceptor.is_open()) {
    asio::co_spawn(control, accept_loop(listeners_.http_acceptor, session::Protocol::http),
                   asio::detached);
  }
  if (grpc_) asio::co_spawn(control, grpc_accept_loop(), asio::detached);
}

}  // namespace katsubushi::server
