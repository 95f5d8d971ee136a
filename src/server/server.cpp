#include "server/server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>

#include "server/logging.hpp"
#include "version.hpp"

namespace katsubushi::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kTooManyConnections = "SERVER_ERROR too many open connections\r\n";

LogRateLimit g_reject_log;
LogRateLimit g_accept_error_log;

bool is_resource_shortage(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space ||
         ec == boost::system::errc::not_enough_memory;
}

// Logs and swallows an exception escaping a connection coroutine: one bad
// connection must never take the daemon down.
void log_if_failed(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection ended by exception: {}", ex.what());
  } catch (...) {
    spdlog::error("connection ended by unknown exception");
  }
}

}  // namespace

struct Server::Worker {
  asio::io_context io{1};
  ConnectionRegistry registry;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
};

struct Server::Listeners {
  explicit Listeners(asio::io_context& io) : tcp_acceptor(io), unix_acceptor(io), signals(io) {}
  tcp::acceptor tcp_acceptor;
  unix_socket::acceptor unix_acceptor;
  std::string unix_path;
  asio::signal_set signals;
  std::chrono::steady_clock::time_point stop_started;
};

Server::Server(const config::Config& config, id::IdGenerator& generator)
    : config_(config),
      generator_(generator),
      stats_(config, generator, counters_, protocol_counters_),
      shared_{
          .services = {.generator = generator,
                       .counters = protocol_counters_,
                       .stats = &stats_,
                       .version = kVersion},
          .limits = {.max_line_bytes = config.max_line_bytes,
                     .max_output_bytes = kMaxOutputBytes,
                     .max_data_block_bytes = kMaxDataBlockBytes},
          .idle_timeout = config.idle_timeout,
          .counters = counters_,
      } {
  for (unsigned i = 0; i < std::max(1u, config.threads); ++i) {
    workers_.push_back(std::make_unique<Worker>());
  }
  listeners_ = std::make_unique<Listeners>(workers_[0]->io);
}

Server::~Server() = default;

void Server::listen() {
  auto& l = *listeners_;
  if (!config_.sock.empty()) {
    const std::string& path = config_.sock;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        throw std::runtime_error("-sock " + path + ": exists and is not a socket");
      }
      // A socket someone still answers on is theirs; a dead one is stale.
      unix_socket::socket probe(workers_[0]->io);
      boost::system::error_code ec;
      probe.connect(unix_socket::endpoint(path), ec);
      if (!ec) throw std::runtime_error("-sock " + path + ": another process is listening there");
      ::unlink(path.c_str());
      spdlog::info("replaced stale socket file {}", path);
    }
    l.unix_acceptor.open(unix_socket());
    l.unix_acceptor.bind(unix_socket::endpoint(path));
    l.unix_acceptor.listen(asio::socket_base::max_listen_connections);
    l.unix_path = path;
    spdlog::info("listening on unix socket {}", path);
    return;
  }
  boost::system::error_code ec;
  l.tcp_acceptor.open(tcp::v6(), ec);
  if (!ec) {
    // One dual-stack socket serves IPv4 and IPv6.
    l.tcp_acceptor.set_option(asio::ip::v6_only(false), ec);
    l.tcp_acceptor.set_option(asio::socket_base::reuse_address(true));
    l.tcp_acceptor.bind(tcp::endpoint(tcp::v6(), config_.port), ec);
    if (ec) l.tcp_acceptor.close();
  }
  if (!l.tcp_acceptor.is_open()) {
    l.tcp_acceptor.open(tcp::v4());
    l.tcp_acceptor.set_option(asio::socket_base::reuse_address(true));
    l.tcp_acceptor.bind(tcp::endpoint(tcp::v4(), config_.port), ec);
    if (ec) {
      throw std::system_error(ec, "-port " + std::to_string(config_.port));
    }
  }
  l.tcp_acceptor.listen(asio::socket_base::max_listen_connections);
  spdlog::info("listening on port {}", l.tcp_acceptor.local_endpoint().port());
}

template <typename Socket>
void Server::reject(Socket& socket) {
  counters_.rejected_connections.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(kTooManyConnections), ec);
  socket.shutdown(Socket::shutdown_both, ec);
  socket.close(ec);
  std::uint64_t suppressed = 0;
  if (g_reject_log.allow(suppressed)) {
    spdlog::warn("refused a connection: {} connections open (-max-connections {}); {} more "
                 "refusals not logged",
                 counters_.curr_connections.load(), config_.max_connections, suppressed);
  }
}

template <typename Acceptor>
asio::awaitable<void> Server::accept_loop(Acceptor& acceptor) {
  asio::steady_timer backoff(acceptor.get_executor());
  while (!stopping_.load()) {
    Worker& w = *workers_[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
    auto [ec, accepted] = co_await acceptor.async_accept(w.io, use_tuple);
    if (ec == asio::error::operation_aborted || stopping_.load()) break;
    if (ec) {
      counters_.accept_errors.fetch_add(1, std::memory_order_relaxed);
      std::uint64_t suppressed = 0;
      if (g_accept_error_log.allow(suppressed)) {
        spdlog::warn("accept failed: {}; {} more failures not logged", ec.message(), suppressed);
      }
      if (is_resource_shortage(ec)) {
        // Out of fds or memory: retrying at once would spin. Existing
        // connections keep being served meanwhile.
        backoff.expires_after(kAcceptBackoff);
        co_await backoff.async_wait(use_tuple);
      }
      continue;
    }
    counters_.total_connections.fetch_add(1, std::memory_order_relaxed);
    typename Acceptor::protocol_type::socket socket(std::move(accepted));
    if (counters_.curr_connections.load(std::memory_order_relaxed) >=
        static_cast<std::int64_t>(config_.max_connections)) {
      reject(socket);
      continue;
    }
    if constexpr (std::is_same_v<std::decay_t<decltype(socket)>, tcp::socket>) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
    }
    ConnectionSlot slot(counters_);
    asio::co_spawn(w.io, serve_connection(std::move(socket), std::move(slot), shared_, w.registry),
                   log_if_failed);
  }
}

asio::awaitable<void> Server::wait_for_signals() {
  auto& signals = listeners_->signals;
  auto [ec, sig] = co_await signals.async_wait(use_tuple);
  if (ec) co_return;
  begin_shutdown("signal " + std::to_string(sig));
  // A second signal means "now".
  auto [ec2, sig2] = co_await signals.async_wait(use_tuple);
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
  spdlog::info("shutting down ({}): {} connections open", why, counters_.curr_connections.load());
  auto& l = *listeners_;
  boost::system::error_code ignored;
  l.tcp_acceptor.close(ignored);
  l.unix_acceptor.close(ignored);
  l.stop_started = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    asio::post(w->io, [&r = w->registry] { r.stop_all(); });
    w->guard.reset();
  }
  // Posted, not spawned here: co_spawn runs drain() inline on this thread, and
  // with no session left it would cancel the signal wait before
  // wait_for_signals has issued its second one, which then kept run() alive.
  asio::post(workers_[0]->io,
             [this] { asio::co_spawn(workers_[0]->io, drain(), asio::detached); });
}

asio::awaitable<void> Server::drain() {
  asio::steady_timer poll(workers_[0]->io);
  const auto deadline =
      listeners_->stop_started +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(config_.shutdown_timeout);
  bool forced = false;
  while (counters_.live_sessions.load() > 0) {
    if (!forced && std::chrono::steady_clock::now() >= deadline) {
      forced = true;
      spdlog::warn("-shutdown-timeout reached: closing {} connections",
                   counters_.live_sessions.load());
      for (auto& w : workers_) {
        asio::post(w->io, [&r = w->registry] { r.force_close_all(); });
      }
    }
    poll.expires_after(kDrainPollInterval);
    co_await poll.async_wait(use_tuple);
  }
  boost::system::error_code ignored;
  listeners_->signals.cancel(ignored);
}

int Server::run() {
  std::signal(SIGPIPE, SIG_IGN);
  auto& l = *listeners_;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) l.signals.add(sig);
  asio::co_spawn(workers_[0]->io, wait_for_signals(), asio::detached);
  if (l.unix_acceptor.is_open()) {
    asio::co_spawn(workers_[0]->io, accept_loop(l.unix_acceptor), asio::detached);
  } else {
    asio::co_spawn(workers_[0]->io, accept_loop(l.tcp_acceptor), asio::detached);
  }

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->guard.emplace(workers_[i]->io.get_executor());
    threads.emplace_back([&io = workers_[i]->io] { io.run(); });
  }
  workers_[0]->io.run();
  for (auto& t : threads) t.join();

  if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  spdlog::info("shutdown complete: {} ids issued", generator_.counters().ids_issued);
  return 0;
}

}  // namespace katsubushi::server
