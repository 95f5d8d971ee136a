#include "client/server_address.hpp"

#include <gtest/gtest.h>

namespace katsubushi::client {
namespace {

TEST(ServerList, ParsesEveryScheme) {
  const auto p = parse_server_list(
      "127.0.0.1:11212, memcached://a.example:1,binary://[::1]:2,http://h:8080,unix:/run/k.sock,"
      "binary+unix:/b.sock,http+unix:/h.sock,memcached+unix:/m.sock,grpc://g:50051,"
      "grpc://[::1]:3,grpc+unix:/g.sock");
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.servers.size(), 11u);
  std::vector<std::string> names;
  for (const auto& s : p.servers) names.push_back(s.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"memcached://127.0.0.1:11212", "memcached://a.example:1",
                                      "binary://[::1]:2", "http://h:8080", "unix:/run/k.sock",
                                      "binary+unix:/b.sock", "http+unix:/h.sock", "unix:/m.sock",
                                      "grpc://g:50051", "grpc://[::1]:3", "grpc+unix:/g.sock"}));
  EXPECT_EQ(p.servers[2].protocol, Protocol::memcached_binary);
  EXPECT_EQ(p.servers[2].endpoint.host, "::1");
  EXPECT_EQ(p.servers[2].endpoint.port, 2);
  EXPECT_EQ(p.servers[3].protocol, Protocol::http);
  EXPECT_EQ(p.servers[4].endpoint.unix_path, "/run/k.sock");
  EXPECT_EQ(p.servers[5].protocol, Protocol::memcached_binary);
  EXPECT_TRUE(p.servers[6].endpoint.is_unix());
  EXPECT_EQ(p.servers[8].protocol, Protocol::grpc);
  EXPECT_EQ(p.servers[8].endpoint.host, "g");
  EXPECT_EQ(p.servers[8].endpoint.port, 50051);
  EXPECT_EQ(p.servers[9].endpoint.host, "::1");
  EXPECT_EQ(p.servers[10].protocol, Protocol::grpc);
  EXPECT_EQ(p.servers[10].endpoint.unix_path, "/g.sock");
}

TEST(ServerList, RefusesWhatItCannotUseNamingTheEntry) {
  struct Case {
    const char* list;
    const char* says;
  };
  const Case cases[] = {
      {"", "empty entry"},
      {"a:1,,b:2", "empty entry"},
      {"grpcs://h:50051", "unknown scheme 'grpcs'"},
      {"grpc://h", "server 'grpc://h': missing :port"},
      {"grpc://:50051", "missing host"},
      {"grpc+unix:", "missing socket path"},
      {"redis://h:1", "unknown scheme 'redis'"},
      {"h", "missing :port"},
      {"h:0", "bad port '0'"},
      {"h:65536", "bad port"},
      {"h:x1", "bad port"},
      {":11212", "missing host"},
      {"::1:11212", "needs brackets"},
      {"[::1]11212", "[address]:port"},
      {"unix:", "missing socket path"},
      {"a:1,binary://b", "server 'binary://b': missing :port"},
  };
  for (const auto& c : cases) {
    const auto p = parse_server_list(c.list);
    EXPECT_NE(p.error.find(c.says), std::string::npos) << c.list << " -> " << p.error;
    EXPECT_TRUE(p.servers.empty()) << c.list;
  }
}

TEST(ServerList, ATrailingCommaIsFine) {
  const auto p = parse_server_list("a:1,");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.servers.size(), 1u);
}

}  // namespace
}  // namespace katsubushi::client
