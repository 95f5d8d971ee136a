// The gRPC transport's pure parts: the channel target of each kind of
// endpoint, and what each gRPC status means for a try.
#include "client_grpc/grpc_transport.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

#include "client/server_address.hpp"

namespace katsubushi::client {
namespace {

std::string target_of(const char* entry) {
  const auto parsed = parse_server_list(entry);
  EXPECT_EQ(parsed.error, "") << entry;
  return parsed.servers.empty() ? "" : grpc_target(parsed.servers[0].endpoint);
}

TEST(GrpcTransport, TargetsNameEveryKindOfEndpoint) {
  EXPECT_EQ(target_of("grpc://127.0.0.1:50051"), "dns:///127.0.0.1:50051");
  EXPECT_EQ(target_of("grpc://ids.example:1"), "dns:///ids.example:1");
  EXPECT_EQ(target_of("grpc://[::1]:50051"), "dns:///[::1]:50051");
  EXPECT_EQ(target_of("grpc+unix:/run/katsubushi/grpc.sock"), "unix:/run/katsubushi/grpc.sock");
}

TEST(GrpcTransport, StatusesMapToWhyATryFailed) {
  using grpc::StatusCode;
  const std::pair<StatusCode, TryErrc> cases[] = {
      {StatusCode::DEADLINE_EXCEEDED, TryErrc::timed_out},
      {StatusCode::UNAVAILABLE, TryErrc::server_error},
      {StatusCode::RESOURCE_EXHAUSTED, TryErrc::server_error},
      {StatusCode::CANCELLED, TryErrc::server_error},
      {StatusCode::INVALID_ARGUMENT, TryErrc::bad_reply},
      {StatusCode::UNIMPLEMENTED, TryErrc::bad_reply},
      {StatusCode::INTERNAL, TryErrc::bad_reply},
      {StatusCode::UNKNOWN, TryErrc::bad_reply},
      {StatusCode::DO_NOT_USE, TryErrc::bad_reply},
  };
  for (const auto& [code, errc] : cases) {
    EXPECT_EQ(grpc_status_meaning(code).errc, errc) << static_cast<int>(code);
  }
  EXPECT_STREQ(grpc_status_meaning(StatusCode::UNAVAILABLE).name, "UNAVAILABLE");
  EXPECT_STREQ(grpc_status_meaning(StatusCode::DEADLINE_EXCEEDED).name, "DEADLINE_EXCEEDED");
  // Every code but OK is a failure, each with a name of its own.
  std::set<std::string> names;
  for (int code = 1; code <= 16; ++code) {
    const auto m = grpc_status_meaning(static_cast<StatusCode>(code));
    EXPECT_NE(static_cast<int>(m.errc), 0) << code;
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
  }
}

}  // namespace
}  // namespace katsubushi::client
