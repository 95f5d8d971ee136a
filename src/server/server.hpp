// The daemon's server: listeners, event loops, connections, signals and
// graceful shutdown around the session core. Its jobs live in a file each:
// server.cpp (start-up, run, systemd status), accept_loop.cpp, idle_sweep.cpp,
// shutdown.cpp; and its parts in classes of their own: Listeners, Worker
// (workers.hpp), GrpcHandoff, Connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "id/generator.hpp"
#include "service/stats.hpp"
#include "server/connection.hpp"
#include "server/grpc_handoff.hpp"
#include "server/listeners.hpp"
#include "process/logging.hpp"
#include "process/loop_watchdog.hpp"
#include "server/server_stats.hpp"
#include "process/systemd.hpp"
#include "server/workers.hpp"

namespace katsubushi::server {

class Server {
 public:
  // Installs the stop-signal handlers and creates every thread's event loop,
  // so that neither a signal nor a shortage of file descriptors can catch the
  // daemon half set up once it listens. Throws std::runtime_error with a
  // message for the operator when it cannot.
  Server(const config::Config& config, id::IdGenerator& generator);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners (-port or -sock, -http-port, -grpc-port), or takes
  // those systemd passed (socket activation) instead; throws
  // std::runtime_error naming the address or the fd when it cannot.
  void listen();

  // Serves until a signal or stop(), then shuts down gracefully. Returns the
  // process exit code.
  int run();

  // Starts a graceful shutdown; safe from any thread.
  void stop();

  // Where `stats` finds the lease and reservation figures; before run().
  void set_id_safety_source(state::IdSafetySource source) {
    stats_.set_id_safety_source(std::move(source));
  }

 private:
  // accept_loop.cpp: every listener's loop, and turning connections away.
  void start_accepting();
  template <typename Acceptor, typename Pick, typename Serve>
  boost::asio::awaitable<void> accept_connections(Acceptor& acceptor, std::string_view why,
                                                  Pick pick, Serve serve);
  template <typename Acceptor>
  boost::asio::awaitable<void> accept_loop(Acceptor& acceptor, session::Protocol protocol);
  // Gives an accepted connection's fd to a serving UringLoop.
  template <typename Socket>
  void hand_to_uring_loop(Worker& w, Socket socket, ConnectionSlot slot,
                          session::Protocol protocol);
  // -grpc-port: accepts on the control loop, counts, hands the fd to gRPC.
  boost::asio::awaitable<void> grpc_accept_loop();
  // Counts, logs (rate-limited) and closes a connection over
  // -max-connections, after sending `why` if not empty.
  template <typename Socket>
  void reject(Socket& socket, std::string_view why);
  void log_accept_error(const std::string& what);

  // idle_sweep.cpp: one thread's idle sweep (and, on thread 0, giving memory
  // back and the slots of gRPC's closed connections), until shutdown: a
  // coroutine on an Asio loop, a tick on a UringLoop.
  struct SweepState {
    std::int64_t closed_at_last_trim = 0;
    std::chrono::steady_clock::time_point last_trim = std::chrono::steady_clock::now();
    std::uint64_t trims_seen = 0;
  };
  void start_sweep(Worker& w);
  boost::asio::awaitable<void> sweep(Worker& w);
  void sweep_once(Worker& w, SweepState& state);

  // shutdown.cpp: signals, stop(), and the drain bounded by -shutdown-timeout.
  boost::asio::awaitable<void> wait_for_signals();
  void begin_shutdown(const std::string& why);
  boost::asio::awaitable<void> drain();

  // What STATUS= tells systemd: the worker id and where the daemon listens.
  std::string listening_summary() const;

  const config::Config& config_;
  id::IdGenerator& generator_;
  ServerCounters counters_;
  service::ProtocolCounters protocol_counters_;
  ServerStats stats_;
  ConnectionServices connection_services_;
  OpenConnections open_connections_;

  std::vector<std::unique_ptr<Worker>> workers_;  // [0] also runs accept, signals, shutdown
  boost::asio::signal_set signals_;
  Listeners listeners_;
  std::atomic<std::size_t> next_worker_{0};
  std::atomic<bool> stopping_{false};
  // Bumped by the control loop each time it gives memory back; each serving
  // thread then trims its own heap's top.
  std::atomic<std::uint64_t> trim_generation_{0};
  boost::asio::steady_timer drain_timer_;  // wakes drain() at the deadline or when the last connection closes
  std::chrono::steady_clock::time_point drain_deadline_;
  // The gRPC API and the connections handed to it, when -grpc-port is set.
  std::unique_ptr<GrpcHandoff> grpc_;
  // The listening sockets systemd passed (LISTEN_FDS), taken by listen();
  // each one it holds is used instead of the flag's port.
  process::systemd::ActivatedSockets activated_;
  // Pings systemd's watchdog while every loop answers (WATCHDOG_USEC set).
  std::unique_ptr<process::LoopWatchdog> watchdog_;
  process::LogRateLimit reject_log_;
  process::LogRateLimit accept_error_log_;
};

}  // namespace katsubushi::server
