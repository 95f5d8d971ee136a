// One entry of a client's server list: which protocol, and where.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace katsubushi::client {

// grpc: spoken by the optional katsubushi::client_grpc library (grpc_hook.hpp).
enum class Protocol { memcached_text, memcached_binary, http, grpc };

// A TCP host and port, or a unix socket path (then host is empty).
struct Endpoint {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
  std::string unix_path;
  bool is_unix() const { return !unix_path.empty(); }
};

struct ServerAddress {
  Protocol protocol = Protocol::memcached_text;
  Endpoint endpoint;
  // How errors and servers() name it: "memcached://127.0.0.1:11212", "unix:/run/k.sock".
  std::string name;
};

struct ServerListParse {
  std::vector<ServerAddress> servers;
  std::string error;  // empty when the list parsed
};

// "host:port,binary://host:port,http://[::1]:8080,grpc://h:50051,unix:/path,...":
// every entry must parse; an unknown scheme is an error naming the entry.
ServerListParse parse_server_list(std::string_view list);

}  // namespace katsubushi::client
