#include "client/grpc_hook.hpp"

#include <atomic>

#include "client/socket_transport.hpp"

namespace katsubushi::client {
namespace {

std::atomic<TransportFactory> grpc_factory{nullptr};

}  // namespace

void set_grpc_transport_factory(TransportFactory factory) noexcept { grpc_factory = factory; }

std::unique_ptr<Transport> make_transport(const ServerAddress& server, const Options& options,
                                          std::string& error) {
  if (server.protocol != Protocol::grpc) {
    return make_socket_transport(server, options.connect_timeout, options.max_idle_connections);
  }
  const TransportFactory factory = grpc_factory;
  if (factory == nullptr) {
    error = "server '" + server.name +
            "': grpc:// needs the gRPC transport, which this program has not enabled: link "
            "katsubushi::client_grpc (libkatsubushi-client-grpc) and call "
            "katsubushi::client::enable_grpc() first (C: katsubushi_client_enable_grpc())";
    return nullptr;
  }
  return factory(server, options);
}

}  // namespace katsubushi::client
