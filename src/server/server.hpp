// Listeners, threads, signals and graceful shutdown around the session core.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "id/generator.hpp"
#include "proto/stats.hpp"
#include "server/connection.hpp"
#include "server/server_stats.hpp"

namespace katsubushi::server {

// How often a stopping server checks whether every session has ended.
inline constexpr std::chrono::milliseconds kDrainPollInterval{10};
// How long accept() waits after running out of file descriptors.
inline constexpr std::chrono::milliseconds kAcceptBackoff{100};
// Output a connection may owe before the server stops reading from it.
inline constexpr std::size_t kMaxOutputBytes = 1024 * 1024;
// Largest storage data block swallowed to keep a text stream in sync.
inline constexpr std::size_t kMaxDataBlockBytes = 1024 * 1024;

class Server {
 public:
  Server(const config::Config& config, id::IdGenerator& generator);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listener; throws std::system_error (or std::runtime_error)
  // with a message naming the address when it cannot.
  void listen();

  // Serves until a signal or stop(), then shuts down gracefully. Returns the
  // process exit code.
  int run();

  // Starts a graceful shutdown; safe from any thread.
  void stop();

 private:
  struct Worker;
  template <typename Acceptor>
  boost::asio::awaitable<void> accept_loop(Acceptor& acceptor);
  boost::asio::awaitable<void> wait_for_signals();
  boost::asio::awaitable<void> drain();
  void begin_shutdown(const std::string& why);
  template <typename Socket>
  void reject(Socket& socket);

  const config::Config& config_;
  id::IdGenerator& generator_;
  ServerCounters counters_;
  proto::ProtocolCounters protocol_counters_;
  ServerStats stats_;
  ConnectionShared shared_;

  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::size_t> next_worker_{0};
  std::atomic<bool> stopping_{false};

  struct Listeners;
  std::unique_ptr<Listeners> listeners_;
};

}  // namespace katsubushi::server
