// The real Transport: a protocol's exchange over pooled connections to one
// server. A connection goes back to the pool only after a clean exchange
// (and is closed after any failure); at most `max_idle` wait there.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "client/connection.hpp"
#include "client/exchange.hpp"
#include "client/server_address.hpp"
#include "client/transport.hpp"

namespace katsubushi::client {

class SocketTransport final : public Transport {
 public:
  SocketTransport(ServerAddress server, std::chrono::milliseconds connect_timeout,
                  std::size_t max_idle);
  Fault fetch(std::size_t n, SteadyTime deadline, std::vector<std::uint64_t>& ids) override;
  void drop_idle() override;

 private:
  ServerAddress server_;
  Exchange exchange_;
  std::chrono::milliseconds connect_timeout_;
  std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<Connection> idle_;  // guarded by mutex_
};

std::unique_ptr<Transport> make_socket_transport(const ServerAddress& server,
                                                 std::chrono::milliseconds connect_timeout,
                                                 std::size_t max_idle);

}  // namespace katsubushi::client
