// enable_grpc(): hands the gRPC transport's factory to the client library's
// hook (client/grpc_hook.hpp), for C++ and for the C ABI.
#include "client/grpc_hook.hpp"
#include "client_grpc/grpc_transport.hpp"
#include "katsubushi/client_grpc.h"
#include "katsubushi/client_grpc.hpp"

namespace katsubushi::client {

void enable_grpc() noexcept { set_grpc_transport_factory(&make_grpc_transport); }

}  // namespace katsubushi::client

extern "C" void katsubushi_client_enable_grpc(void) { katsubushi::client::enable_grpc(); }
