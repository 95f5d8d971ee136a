// grpc:// is spoken by a library of its own, katsubushi::client_grpc
// (src/client_grpc), so that this one needs no gRPC, Protobuf or Abseil to
// link: that library hands its transport's factory to this hook
// (katsubushi::client::enable_grpc()), and a Client made afterwards builds
// its grpc:// servers with it. Until then a grpc:// server is a
// bad_server_list error that says what to link and call.
#pragma once

#include <memory>
#include <string>

#include "client/server_address.hpp"
#include "client/transport.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::client {

using TransportFactory = std::unique_ptr<Transport> (*)(const ServerAddress& server,
                                                        const Options& options);

// Exported from libkatsubushi-client.so for libkatsubushi-client-grpc.so,
// which is built from the same sources (not a public header: the Transport
// interface is this library's own). Thread-safe; the last call wins.
KATSUBUSHI_CLIENT_API void set_grpc_transport_factory(TransportFactory factory) noexcept;

// The transport of one server: a socket's for memcached and HTTP, the
// registered factory's for gRPC. Null, with `error` set, for a grpc:// server
// when no factory is registered.
std::unique_ptr<Transport> make_transport(const ServerAddress& server, const Options& options,
                                          std::string& error);

}  // namespace katsubushi::client
