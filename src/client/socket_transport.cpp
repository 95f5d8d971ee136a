#include "client/socket_transport.hpp"

#include <algorithm>
#include <utility>

namespace katsubushi::client {
namespace {

Exchange exchange_for(Protocol p) {
  switch (p) {
    case Protocol::memcached_binary:
      return binary_exchange;
    case Protocol::http:
      return http_exchange;
    case Protocol::memcached_text:
    case Protocol::grpc:  // never a socket transport's (make_transport in grpc_hook.cpp)
      break;
  }
  return text_exchange;
}

}  // namespace

SocketTransport::SocketTransport(ServerAddress server, std::chrono::milliseconds connect_timeout,
                                 std::size_t max_idle)
    : server_(std::move(server)),
      exchange_(exchange_for(server_.protocol)),
      connect_timeout_(connect_timeout),
      max_idle_(max_idle) {}

Fault SocketTransport::fetch(std::size_t n, SteadyTime deadline, std::vector<std::uint64_t>& ids) {
  Connection conn;
  {
    const std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!conn.is_open()) {
    const auto connect_by = std::min(deadline, std::chrono::steady_clock::now() + connect_timeout_);
    if (auto f = Connection::open(server_.endpoint, connect_by, conn)) return f;
  }
  auto result = exchange_(conn, server_, n, deadline, ids);
  if (!result.fault && result.keep_alive && !conn.has_unread()) {
    const std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
  }
  return result.fault;
}

void SocketTransport::drop_idle() {
  std::vector<Connection> dropped;
  const std::lock_guard lock(mutex_);
  dropped.swap(idle_);
}

std::unique_ptr<Transport> make_socket_transport(const ServerAddress& server,
                                                 std::chrono::milliseconds connect_timeout,
                                                 std::size_t max_idle) {
  return std::make_unique<SocketTransport>(server, connect_timeout, max_idle);
}

}  // namespace katsubushi::client
