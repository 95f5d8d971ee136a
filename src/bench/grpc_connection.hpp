// One connection of a -proto grpc load run: a gRPC channel of its own (its
// own HTTP/2 connection), -depth calls in flight on one completion queue,
// Fetch when -keys is 1 and FetchMulti{n = -keys} otherwise, as
// go-katsubushi's gRPC clients ask. gRPC's headers stay in the .cpp.
//
// -check over gRPC: calls in flight together are streams of one connection
// that the server may answer in either order, so the ids of the whole
// connection must strictly increase only at -depth 1. At any depth each
// reply's ids must increase, and no id may come twice, on one connection
// or across them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/load_connection.hpp"

namespace katsubushi::bench {

class GrpcLoadConnection {
 public:
  // Connects to host:port and waits for the channel to be ready, at most
  // kReplyTimeout; nullptr and `error` set when it is not.
  static std::unique_ptr<GrpcLoadConnection> open(const std::string& host, std::uint16_t port,
                                                  std::string& error);
  ~GrpcLoadConnection();
  GrpcLoadConnection(const GrpcLoadConnection&) = delete;
  GrpcLoadConnection& operator=(const GrpcLoadConnection&) = delete;

  // The calls of `plan` until the phase is `stop` (or the budget is spent)
  // and every call made has ended, as run_connection() for a socket.
  void run(const LoadPlan& plan, LoadControl& control, ConnectionResult& result);

 private:
  struct Impl;
  explicit GrpcLoadConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace katsubushi::bench
