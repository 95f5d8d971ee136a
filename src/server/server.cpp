#include "server/server.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>

#include "config/limits.hpp"
#include "grpc/grpc_front.hpp"
#include "session/refusal.hpp"
#include "service/session_limits.hpp"
#include "server/deadline.hpp"
#include "server/memory.hpp"
#include "server/plain_allocator.hpp"
#include "server/stop_signals.hpp"
#include "server/systemd.hpp"
#include "version.hpp"

namespace katsubushi::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A start-up failure the operator can act on: what we tried, and why it failed
// in the system's words (never a library's source location).
[[noreturn]] void fail(const std::string& what, const boost::system::error_code& ec) {
  throw std::runtime_error(what + ": " + ec.message());
}

bool is_resource_shortage(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space ||
         ec == boost::system::errc::not_enough_memory;
}

// Go programs raise their soft fd limit to the hard one at start, and so does
// go-katsubushi: do the same, so the limit an operator sees is the one in force.
rlimit raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return lim;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      spdlog::debug("raised the fd limit from {} to {}", lim.rlim_cur, raised.rlim_cur);
      return raised;
    }
  }
  return lim;
}

std::string fd_limit_text(const rlimit& lim) {
  return lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(lim.rlim_cur);
}

// Runs one thread's event loop until it runs out of work. A handler that
// throws is logged and the loop goes on: an exception must never unwind a
// thread into std::terminate.
void run_event_loop(asio::io_context& io, std::size_t index) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("thread {}: a handler failed: {}; serving on", index, e.what());
    } catch (...) {
      spdlog::error("thread {}: a handler failed with an unknown exception; serving on", index);
    }
  }
}

// Whether something answers on the unix socket at `path`. Never blocks: a
// listener whose backlog is full (its owner stopped or overloaded) is alive
// too, and a blocking connect would wait on it forever.
enum class SocketProbe { alive, stale, gone };
SocketProbe probe_unix_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("-sock " + path + ": probing the existing socket", {errno, boost::system::system_category()});
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return SocketProbe::alive;
  if (err == ECONNREFUSED) return SocketProbe::stale;
  if (err == ENOENT) return SocketProbe::gone;
  fail("-sock " + path + ": probing the existing socket", {err, boost::system::system_category()});
}

void listen_unix(unix_socket::acceptor& acceptor, const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::runtime_error("-sock " + path + ": path too long for a unix socket (at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("-sock " + path + ": exists and is not a socket");
    }
    // A socket someone still answers on is theirs; a dead one is stale.
    switch (probe_unix_socket(path)) {
      case SocketProbe::alive:
        throw std::runtime_error("-sock " + path + ": another process is listening there");
      case SocketProbe::stale:
        ::unlink(path.c_str());
        spdlog::info("replaced stale socket file {}", path);
        break;
      case SocketProbe::gone:
        break;
    }
  }
  boost::system::error_code ec;
  acceptor.open(unix_socket(), ec);
  if (ec) fail("-sock " + path, ec);
  acceptor.bind(unix_socket::endpoint(path), ec);
  if (ec) fail("-sock " + path, ec);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("-sock " + path, ec);
  spdlog::info("listening on unix socket {}", path);
}

// One dual-stack socket serves IPv4 and IPv6. Only a host without IPv6 falls
// back to IPv4 alone, and says so; a port taken on either family is an error,
// never a silent half.
void listen_tcp(tcp::acceptor& acceptor, std::string_view flag, std::uint16_t port) {
  const std::string where = std::string(flag) + " " + std::to_string(port);
  boost::system::error_code ec;
  bool dual_stack = false;
  acceptor.open(tcp::v6(), ec);
  if (!ec) {
    acceptor.set_option(asio::ip::v6_only(false), ec);
    if (ec) fail(where + ": cannot serve IPv4 and IPv6 on one socket", ec);
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail(where, ec);
    acceptor.bind(tcp::endpoint(tcp::v6(), port), ec);
    if (!ec) {
      dual_stack = true;
    } else if (ec != boost::system::errc::address_not_available) {
      fail(where + " (IPv4 and IPv6)", ec);
    } else {
      boost::system::error_code ignored;
      acceptor.close(ignored);
    }
  } else if (ec != boost::system::errc::address_family_not_supported) {
    fail(where, ec);
  }
  if (!dual_stack) {
    spdlog::warn("IPv6 is not available on this host ({}): {} serves IPv4 only", ec.message(),
                 flag);
    acceptor.open(tcp::v4(), ec);
    if (ec) fail(where, ec);
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail(where, ec);
    acceptor.bind(tcp::endpoint(tcp::v4(), port), ec);
    if (ec) fail(where + " (IPv4)", ec);
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(where, ec);
  const auto bound = acceptor.local_endpoint(ec);
  const char* what = flag == "-port" ? "memcached" : flag == "-http-port" ? "HTTP" : "gRPC";
  spdlog::info("{} listening on port {} ({})", what,
               ec ? port : bound.port(), dual_stack ? "IPv4 and IPv6" : "IPv4 only");
}

// Socket activation: a listening socket systemd passed is used as it is,
// instead of binding the flag's port. systemd keeps its own copy, so
// connections made while the daemon restarts wait in its backlog, and a unix
// socket's file is systemd's to remove.
std::string activated(int fd, systemd::SocketRole role) {
  return "socket activation: fd " + std::to_string(fd) + " (" +
         std::string(systemd::to_string(role)) + ")";
}

int socket_family(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return AF_UNSPEC;
  return addr.ss_family;
}

// `overridden`: the flag and value the socket is used instead of, for the log.
void adopt_tcp(tcp::acceptor& acceptor, int fd, systemd::SocketRole role,
               const std::string& overridden) {
  const int family = socket_family(fd);
  if (family != AF_INET && family != AF_INET6) {
    throw std::runtime_error(activated(fd, role) + ": not a TCP socket");
  }
  boost::system::error_code ec;
  acceptor.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) fail(activated(fd, role), ec);
  const auto bound = acceptor.local_endpoint(ec);
  spdlog::info("{} listening on {} (fd {} from systemd, instead of {})", systemd::to_string(role),
               ec ? std::string("?") : bound.address().to_string() + " port " +
                                           std::to_string(bound.port()),
               fd, overridden);
}

void adopt_unix(unix_socket::acceptor& acceptor, int fd, const std::string& overridden) {
  boost::system::error_code ec;
  acceptor.assign(unix_socket(), fd, ec);
  if (ec) fail(activated(fd, systemd::SocketRole::memcached), ec);
  const auto bound = acceptor.local_endpoint(ec);
  spdlog::info("memcached listening on unix socket {} (fd {} from systemd, instead of {})",
               ec ? std::string("?") : bound.path(), fd, overridden);
}

}  // namespace

// One thread's event loop and its live connections. The loop's reactor (an
// epoll fd, an eventfd and a timerfd) is created here, at start, by the timer:
// created lazily by the first connection, it could fail for lack of fds
// in the middle of serving.
struct Server::Worker {
  explicit Worker(std::size_t thread_index)
      : index(thread_index), reactor_primer(io), sweeper(io) {}
  std::size_t index;
  // Declared before the loop, so it outlives it: a connection still waiting
  // when the loop is destroyed is destroyed with its operation, and leaves
  // the registry then.
  ConnectionRegistry registry;
  asio::io_context io{1};
  asio::steady_timer reactor_primer;
  asio::steady_timer sweeper;  // the idle sweep's tick; cancelled at shutdown
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
};

struct Server::Listeners {
  explicit Listeners(asio::io_context& io)
      : tcp_acceptor(io), unix_acceptor(io), http_acceptor(io), grpc_acceptor(io) {}
  tcp::acceptor tcp_acceptor;       // -port
  unix_socket::acceptor unix_acceptor;  // -sock, instead of -port
  tcp::acceptor http_acceptor;      // -http-port
  tcp::acceptor grpc_acceptor;      // -grpc-port
  std::string unix_path;  // removed at exit
};

// A connection handed to gRPC, which closes its fd when the connection ends
// without telling anyone: the fd no longer naming the same socket (closed,
// or reused for another file) is how the control loop sees it gone.
struct Server::GrpcConnection {
  int fd;
  dev_t device;
  ino_t inode;
  ConnectionSlot slot;

  bool gone() const {
    struct stat st {};
    return ::fstat(fd, &st) != 0 || st.st_dev != device || st.st_ino != inode;
  }
};

namespace {

// File descriptors open in this process now, or 0 if unknown.
std::size_t open_fd_count() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // less the iterator's own
}

// Each thread's event loop takes an epoll fd, an eventfd and a timerfd; the
// signal set takes a pipe, the listeners one fd each, and at least one connection
// should fit. Checked before any is made, so the message can name the
// numbers; an allocation failing anyway is caught below.
constexpr std::size_t kFdsPerThread = 3;
constexpr std::size_t kFdsBesideThreads = 2 + 2 + 1;

// Event loop 0 is the control loop (listeners, signals, shutdown, giving
// memory back); loops 1..threads serve connections. Sockets and their
// coroutines are then allocated on different threads, so the reactor's
// per-socket records (which Asio pools and never frees) stay packed together
// instead of pinning, here and there, pages that connections freed.
template <typename WorkerT>
std::vector<std::unique_ptr<WorkerT>> make_workers(unsigned threads) {
  const rlimit fd_limit = raise_fd_limit();
  const unsigned n = std::max(1u, threads) + 1;
  const std::string advice = " (open file limit " + fd_limit_text(fd_limit) + ", " +
                             std::to_string(kFdsPerThread) +
                             " per thread): lower -threads or raise the limit";
  const std::size_t needed = open_fd_count() + kFdsPerThread * n + kFdsBesideThreads;
  if (fd_limit.rlim_cur != RLIM_INFINITY && needed > fd_limit.rlim_cur) {
    throw std::runtime_error("-threads " + std::to_string(n - 1) + " needs " +
                             std::to_string(needed) + " file descriptors to start" + advice);
  }
  std::vector<std::unique_ptr<WorkerT>> workers;
  for (unsigned i = 0; i < n; ++i) {
    try {
      workers.push_back(std::make_unique<WorkerT>(i));
    } catch (const std::exception&) {
      throw std::runtime_error("-threads " + std::to_string(n - 1) +
                               ": creating the event loop of thread " + std::to_string(i + 1) +
                               " failed" + advice);
    }
  }
  return workers;
}

}  // namespace

Server::Server(const config::Config& config, id::IdGenerator& generator)
    : config_(config),
      generator_(generator),
      stats_(config, generator, counters_, protocol_counters_),
      connection_services_{
          .session = {.generator = generator,
                      .counters = protocol_counters_,
                      .stats = &stats_,
                      .version = kVersion},
          .limits = service::session_limits(config),
          .idle_timeout = config.idle_timeout,
          .counters = counters_,
      },
      open_connections_(counters_.curr_connections),
      workers_(make_workers<Worker>(config.threads)),
      signals_(workers_[0]->io),
      listeners_(std::make_unique<Listeners>(workers_[0]->io)),
      drain_timer_(workers_[0]->io) {
  // A client that resets while we write must be an error code, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  // Handlers go in before the port opens: a stop signal (systemd stopping a
  // unit it just started) must find them there, or it kills the process and
  // resets the clients already queued.
  for (int sig : kStopSignals) {
    boost::system::error_code ec;
    signals_.add(sig, ec);
    if (ec) fail("installing the handler for signal " + std::to_string(sig), ec);
  }
  // Held back since the process began (katsubushi_main.cpp): one that came
  // meanwhile is delivered now, to the handlers.
  unblock_stop_signals();
}

Server::~Server() {
  if (grpc_stopper_.joinable()) grpc_stopper_.join();
}

void Server::listen() {
  auto& l = *listeners_;
  // Each socket systemd passed replaces its flag's; the others bind as usual.
  activated_ = systemd::take_activated_sockets();
  const auto& a = activated_;
  if (a.memcached) {
    const std::string flag = config_.sock.empty() ? "-port " + std::to_string(config_.port)
                                                  : "-sock " + config_.sock;
    if (socket_family(*a.memcached) == AF_UNIX) {
      adopt_unix(l.unix_acceptor, *a.memcached, flag);  // unix_path stays empty: not ours to remove
    } else {
      adopt_tcp(l.tcp_acceptor, *a.memcached, systemd::SocketRole::memcached, flag);
    }
  } else if (!config_.sock.empty()) {
    listen_unix(l.unix_acceptor, config_.sock);
    l.unix_path = config_.sock;
  } else {
    listen_tcp(l.tcp_acceptor, "-port", config_.port);
  }
  if (a.http) {
    adopt_tcp(l.http_acceptor, *a.http, systemd::SocketRole::http,
              "-http-port " + std::to_string(config_.http_port));
  } else if (config_.http_port != 0) {
    listen_tcp(l.http_acceptor, "-http-port", static_cast<std::uint16_t>(config_.http_port));
  }
  if (a.grpc) {
    adopt_tcp(l.grpc_acceptor, *a.grpc, systemd::SocketRole::grpc,
              "-grpc-port " + std::to_string(config_.grpc_port));
  } else if (config_.grpc_port != 0) {
    listen_tcp(l.grpc_acceptor, "-grpc-port", static_cast<std::uint16_t>(config_.grpc_port));
  }
  if (l.grpc_acceptor.is_open()) {
    // gRPC's threads: a poller or two and the calls in flight, which are
    // short (a wait for the next millisecond at most).
    grpc_ = std::make_unique<grpcapi::GrpcFront>(
        generator_, protocol_counters_, stats_,
        grpcapi::GrpcOptions{.idle_timeout = config_.idle_timeout,
                             .max_threads = static_cast<int>(config_.threads) + 2});
  }
}

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

template <typename Acceptor>
asio::awaitable<void> Server::accept_loop(Acceptor& acceptor, session::Protocol protocol) {
  Worker* next = nullptr;
  co_await accept_connections(
      acceptor, session::too_many_connections_reply(protocol),
      [this, &next]() -> asio::io_context& {
        next = workers_[1 + next_worker_.fetch_add(1, std::memory_order_relaxed) %
                                (workers_.size() - 1)]
                   .get();
        return next->io;
      },
      [this, &next, protocol](auto socket) {
        ConnectionSlot slot(open_connections_);
        // The connection is made on its own thread, so its memory comes
        // from that thread's heap.
        Worker& w = *next;
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
      listeners_->grpc_acceptor, "",
      [this]() -> asio::io_context& {
        reap_grpc_connections(false);  // a slot gRPC freed since the last sweep counts now
        return workers_[0]->io;
      },
      [this](tcp::socket socket) {
        boost::system::error_code ignored;
        struct stat st {};
        const int fd = socket.release(ignored);
        if (fd < 0 || ::fstat(fd, &st) != 0 ||
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
          if (fd >= 0) ::close(fd);
          log_accept_error("preparing a gRPC connection failed");
          return;
        }
        try {
          grpc_connections_.push_back(GrpcConnection{.fd = fd,
                                                     .device = st.st_dev,
                                                     .inode = st.st_ino,
                                                     .slot = ConnectionSlot(open_connections_)});
        } catch (...) {
          ::close(fd);
          throw;
        }
        grpc_->adopt(fd);  // gRPC owns the fd from here on
      });
}

void Server::reap_grpc_connections(bool all) {
  if (all) {
    grpc_connections_.clear();
    return;
  }
  grpc_connections_.remove_if([](const GrpcConnection& c) { return c.gone(); });
}

// How often each thread looks for idle connections: a quarter of the idle
// timeout, so one is closed at most 25% late, at most once a second.
SteadyClock::duration sweep_period(std::chrono::nanoseconds idle_timeout) {
  using namespace std::chrono_literals;
  if (idle_timeout == std::chrono::nanoseconds::zero()) return 1s;
  return std::clamp<SteadyClock::duration>(
      std::chrono::duration_cast<SteadyClock::duration>(idle_timeout / 4), 10ms, 1s);
}

asio::awaitable<void> Server::sweep(Worker& w) {
  const auto period = sweep_period(config_.idle_timeout);
  const auto idle_timeout = config_.idle_timeout;
  std::int64_t closed_at_last_trim = 0;
  auto last_trim = SteadyClock::now();
  std::uint64_t trims_seen = 0;
  while (!stopping_.load()) {
    w.sweeper.expires_after(period);
    co_await w.sweeper.async_wait(use_tuple);
    if (stopping_.load()) break;
    if (idle_timeout != std::chrono::nanoseconds::zero()) {
      w.registry.sweep_idle(SteadyClock::now(), idle_timeout);
    }
    if (w.index == 0) reap_grpc_connections(false);
    if (w.index == 0 && SteadyClock::now() - last_trim >= std::chrono::seconds(1)) {
      // Connections closed since the last look: their buffers went back to
      // the heap; give its free pages back to the system, at most once a second.
      const auto closed = static_cast<std::int64_t>(counters_.total_connections.load()) -
                          counters_.curr_connections.load();
      if (closed != closed_at_last_trim) {
        closed_at_last_trim = closed;
        last_trim = SteadyClock::now();
        give_back_free_memory();
        counters_.memory_trims.fetch_add(1, std::memory_order_relaxed);
        trim_generation_.fetch_add(1, std::memory_order_relaxed);
      }
    } else if (w.index != 0) {
      const auto generation = trim_generation_.load(std::memory_order_relaxed);
      if (generation != trims_seen) {
        trims_seen = generation;
        give_back_thread_heap_top();
      }
    }
  }
}

asio::awaitable<void> Server::wait_for_signals() {
  auto [ec, sig] = co_await signals_.async_wait(use_tuple);
  if (ec) co_return;
  begin_shutdown("signal " + std::to_string(sig));
  // A second signal means "now".
  auto [ec2, sig2] = co_await signals_.async_wait(use_tuple);
  if (ec2) co_return;
  spdlog::warn("signal {} during shutdown: exiting at once", sig2);
  spdlog::default_logger()->flush();
  std::_Exit(1);
}

void Server::stop() {
  asio::post(workers_[0]->io, [this] { begin_shutdown("stop requested"); });
}

void Server::begin_shutdown(const std::string& why) {
  if (stopping_.exchange(true)) return;
  spdlog::info("shutting down ({}): {} connections open", why, open_connections_.count());
  systemd::notify("STOPPING=1\nSTATUS=shutting down (" + why + "): " +
                  std::to_string(open_connections_.count()) + " connections open");
  if (watchdog_) watchdog_->draining();
  auto& l = *listeners_;
  boost::system::error_code ignored;
  l.tcp_acceptor.close(ignored);
  l.unix_acceptor.close(ignored);
  l.http_acceptor.close(ignored);
  l.grpc_acceptor.close(ignored);
  drain_deadline_ = saturating_add(
      SteadyClock::now(),
      std::chrono::duration_cast<SteadyClock::duration>(config_.shutdown_timeout));
  for (auto& w : workers_) {
    asio::post(w->io, [&w = *w] {
      w.registry.stop_all();
      w.sweeper.cancel();
    });
    w->guard.reset();
  }
  if (grpc_) {
    // gRPC's calls in flight finish within kGrpcStopGrace (and the same
    // deadline); then gRPC closes its connections, so one whose client
    // ignores GOAWAY does not hold the stop for all of -shutdown-timeout.
    // Its Shutdown blocks, so it runs on a thread of its own, and the
    // control loop gives back its connections' slots when it returns.
    const auto left = std::clamp<SteadyClock::duration>(
        drain_deadline_ - SteadyClock::now(), SteadyClock::duration::zero(),
        std::chrono::duration_cast<SteadyClock::duration>(config::kGrpcStopGrace));
    const auto grpc_deadline =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
    grpc_stopper_ = std::thread([this, grpc_deadline] {
      grpc_->shutdown(grpc_deadline);
      asio::post(workers_[0]->io, [this] { reap_grpc_connections(true); });
    });
  }
  // The last connection to close, on whatever thread, wakes drain().
  open_connections_.watch(
      [this] { asio::post(workers_[0]->io, [this] { drain_timer_.cancel(); }); });
  // Posted, not spawned here: co_spawn runs drain() inline on this thread, and
  // with no connection left it would cancel the signal wait before
  // wait_for_signals has issued its second one, which then kept run() alive.
  asio::post(workers_[0]->io,
             [this] { asio::co_spawn(workers_[0]->io, drain(), asio::detached); });
}

asio::awaitable<void> Server::drain() {
  drain_timer_.expires_at(drain_deadline_);
  bool forced = false;
  while (open_connections_.count() > 0) {
    co_await drain_timer_.async_wait(use_tuple);
    if (!forced && SteadyClock::now() >= drain_deadline_ && open_connections_.count() > 0) {
      forced = true;
      spdlog::warn("-shutdown-timeout reached: closing {} connections", open_connections_.count());
      for (auto& w : workers_) {
        asio::post(w->io, [&r = w->registry] { r.force_close_all(); });
      }
      drain_timer_.expires_at(SteadyClock::time_point::max());
    }
  }
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  if (watchdog_) watchdog_->stop();
}

std::string Server::listening_summary() const {
  const auto& l = *listeners_;
  boost::system::error_code ec;
  std::string s = "worker id " + std::to_string(generator_.worker_id()) + ", memcached on ";
  if (l.unix_acceptor.is_open()) {
    const auto ep = l.unix_acceptor.local_endpoint(ec);
    s += "unix socket " + (ec ? std::string("?") : ep.path());
  } else {
    const auto ep = l.tcp_acceptor.local_endpoint(ec);
    s += "port " + (ec ? std::string("?") : std::to_string(ep.port()));
  }
  for (const auto& [name, acceptor] :
       {std::pair{"HTTP", &l.http_acceptor}, std::pair{"gRPC", &l.grpc_acceptor}}) {
    if (!acceptor->is_open()) continue;
    const auto ep = acceptor->local_endpoint(ec);
    s += std::string(", ") + name + " on port " + (ec ? std::string("?") : std::to_string(ep.port()));
  }
  return s;
}

int Server::run() {
  asio::co_spawn(workers_[0]->io, wait_for_signals(), asio::detached);
  auto& l = *listeners_;
  if (l.unix_acceptor.is_open()) {
    asio::co_spawn(workers_[0]->io, accept_loop(l.unix_acceptor, session::Protocol::undecided),
                   asio::detached);
  } else {
    asio::co_spawn(workers_[0]->io, accept_loop(l.tcp_acceptor, session::Protocol::undecided),
                   asio::detached);
  }
  if (l.http_acceptor.is_open()) {
    asio::co_spawn(workers_[0]->io, accept_loop(l.http_acceptor, session::Protocol::http),
                   asio::detached);
  }
  if (grpc_) asio::co_spawn(workers_[0]->io, grpc_accept_loop(), asio::detached);

  for (auto& w : workers_) asio::co_spawn(w->io, sweep(*w), asio::detached);

  // Loop 0, the control loop, runs on this thread; the others serve.
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    w.guard.emplace(w.io.get_executor());
    threads.emplace_back([&w] { run_event_loop(w.io, w.index); });
  }
  // Listening since listen(), and the accept loops start with the control
  // loop: systemd may send clients now. The watchdog, if systemd asks for
  // one, pings while every loop answers.
  systemd::notify("READY=1\nSTATUS=serving ids as " + listening_summary());
  if (const auto interval = systemd::watchdog_interval()) {
    std::vector<asio::io_context*> serving;
    for (std::size_t i = 1; i < workers_.size(); ++i) serving.push_back(&workers_[i]->io);
    watchdog_ = std::make_unique<LoopWatchdog>(workers_[0]->io, std::move(serving), *interval,
                                               [] { systemd::notify("WATCHDOG=1"); });
    watchdog_->start();
    spdlog::info("systemd watchdog: pinging every {} ms while every event loop answers",
                 std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 2).count());
  }
  run_event_loop(workers_[0]->io, 0);
  for (auto& t : threads) t.join();
  if (grpc_stopper_.joinable()) grpc_stopper_.join();

  if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  spdlog::info("shutdown complete: {} ids issued", generator_.counters().ids_issued);
  return 0;
}

}  // namespace katsubushi::server
