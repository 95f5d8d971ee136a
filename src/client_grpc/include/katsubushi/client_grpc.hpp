// grpc:// for katsubushi::client::Client: the gRPC transport, in a library
// of its own (katsubushi::client_grpc, libkatsubushi-client-grpc) so that
// the client library itself needs no gRPC. Link it and call enable_grpc()
// once, before making a Client with grpc:// servers:
//
//   katsubushi::client::enable_grpc();
//   katsubushi::client::Client ids("grpc://10.0.0.1:50051,10.0.0.2:11212");
//
// grpc://host:port and grpc+unix:/path speak go-katsubushi's gRPC API
// (katsubushi.Generator: Fetch for one id, FetchMulti for more). This
// library holds the generated code of katsubushi.proto: a program that
// links it must not link another copy of that file's (or go-katsubushi's
// proto/main.proto's) generated code, as Protobuf refuses two definitions
// of one message.
#pragma once

#include "katsubushi/client.hpp"

namespace katsubushi::client {

// Lets every Client made afterwards, in this process, speak grpc:// and
// grpc+unix:. Thread-safe; calling it again does nothing more.
KATSUBUSHI_CLIENT_API void enable_grpc() noexcept;

}  // namespace katsubushi::client
