// The gRPC Transport: go-katsubushi's API (katsubushi.proto's Generator:
// Fetch for one id, FetchMulti{n} for more) over one channel per server,
// reused by every call. A failed try drops the channel, so the next one
// connects anew (as the socket transports close their kept connections)
// instead of waiting out gRPC's own reconnect backoff: when to ask a failed
// server again is the failover's backoff alone.
#pragma once

#include <grpcpp/support/status_code_enum.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/server_address.hpp"
#include "client/transport.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::client {

// The largest reply gRPC may hand over (1000 ids take under 12 KiB); a
// larger one fails the try.
inline constexpr int kMaxGrpcReplyBytes = 64 * 1024;

// gRPC's name for an endpoint: "dns:///host:port", "dns:///[::1]:port",
// "unix:/path".
std::string grpc_target(const Endpoint& endpoint);

// What a gRPC status means for a try, and the code's name.
struct GrpcStatusMeaning {
  TryErrc errc;
  const char* name;
};
GrpcStatusMeaning grpc_status_meaning(grpc::StatusCode code) noexcept;

struct GrpcLink;  // a channel and its stub (grpc_transport.cpp)

class GrpcTransport final : public Transport {
 public:
  GrpcTransport(const ServerAddress& server, std::chrono::milliseconds connect_timeout);
  ~GrpcTransport() override;
  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  Fault fetch(std::size_t n, SteadyTime deadline, std::vector<std::uint64_t>& ids) override;
  void drop_idle() override;

 private:
  std::shared_ptr<GrpcLink> link();

  std::string target_;
  std::chrono::milliseconds connect_timeout_;
  std::mutex mutex_;
  std::shared_ptr<GrpcLink> link_;  // guarded by mutex_; made on first use
};

// The factory enable_grpc() registers (client/grpc_hook.hpp).
std::unique_ptr<Transport> make_grpc_transport(const ServerAddress& server, const Options& options);

}  // namespace katsubushi::client
