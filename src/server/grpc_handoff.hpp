// -grpc-port: connections the control loop accepts and counts, handed to
// gRPC by fd, and the slots under -max-connections they hold until gRPC has
// closed them.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <thread>

#include "server/connection.hpp"

namespace katsubushi::grpcapi {
class GrpcFront;
}

namespace katsubushi::server {

// Used from the control loop only, but for stop(), whose thread posts back to it.
class GrpcHandoff {
 public:
  GrpcHandoff(std::unique_ptr<grpcapi::GrpcFront> front, OpenConnections& open);
  ~GrpcHandoff();  // waits for stop()'s thread
  GrpcHandoff(const GrpcHandoff&) = delete;
  GrpcHandoff& operator=(const GrpcHandoff&) = delete;

  // Hands an accepted connection to gRPC, which owns its fd from then on; it
  // keeps a slot until gRPC closes it. False when the socket could not be
  // prepared (it is closed then). Throws when the slot's record cannot be made.
  bool adopt(TcpSocket socket);

  // Gives back the slots of the connections gRPC has closed.
  void reap();

  // gRPC's calls in flight finish by `deadline`, then gRPC closes its
  // connections. gRPC's stop blocks, so it runs on a thread of its own, which
  // then has `control` give back every slot.
  void stop(std::chrono::system_clock::time_point deadline, boost::asio::io_context& control);

  // Waits for stop()'s thread, if it ran.
  void join();

 private:
  // A connection handed to gRPC, which closes its fd when the connection ends
  // without telling anyone: the fd no longer naming the same socket (closed,
  // or reused for another file) is how the control loop sees it gone.
  struct Handed {
    int fd;
    dev_t device;
    ino_t inode;
    ConnectionSlot slot;

    bool gone() const;
  };

  std::unique_ptr<grpcapi::GrpcFront> front_;
  OpenConnections& open_;
  std::thread stopper_;
  std::list<Handed> connections_;
};

}  // namespace katsubushi::server
