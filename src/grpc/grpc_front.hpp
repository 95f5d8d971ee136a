// The gRPC API (go-katsubushi's Generator and Stats services, with server
// reflection) on a grpc::Server of its own threads.
//
// The server binds no port: the daemon accepts connections on -grpc-port (or
// a socket systemd hands it) on its control loop, counts them as it counts
// every connection, and hands each one's fd over here. gRPC's threads touch
// nothing of the Asio threads but the generator (thread-safe), the protocol
// counters (atomic) and the stats source (thread-safe).
#pragma once

#include <chrono>
#include <memory>

#include "id/generator.hpp"
#include "service/stats.hpp"

namespace grpc {
class Server;
}

namespace katsubushi::grpcapi {

struct GrpcOptions {
  std::chrono::nanoseconds idle_timeout{0};  // 0 = never: gRPC closes idle connections
  int max_threads = 4;  // threads of gRPC's synchronous services (reflection), pollers included
};

class GrpcFront {
 public:
  // Starts gRPC's threads; throws std::runtime_error when gRPC cannot start.
  GrpcFront(id::IdGenerator& generator, service::ProtocolCounters& counters,
            service::StatsSource& stats, const GrpcOptions& options);
  ~GrpcFront();
  GrpcFront(const GrpcFront&) = delete;
  GrpcFront& operator=(const GrpcFront&) = delete;

  // Serves an accepted, connected socket; gRPC owns (and closes) `fd` from
  // here on.
  void adopt(int fd);

  // Graceful stop: calls in flight finish until `deadline`, then are
  // cancelled; connections are closed. Blocks until then. Idempotent.
  void shutdown(std::chrono::system_clock::time_point deadline);

 private:
  struct Services;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace katsubushi::grpcapi
