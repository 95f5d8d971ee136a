// Loopback ports for tests that start servers: probed by binding, then let
// go, so a port is only ever "free a moment ago".
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace katsubushi::testing {

// Binds 127.0.0.1:`port` (0: any) and closes at once: the port bound, or 0
// when it could not be bound.
inline std::uint16_t bind_loopback_probe(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  std::uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
inline std::uint16_t free_tcp_port() { return bind_loopback_probe(0); }

}  // namespace katsubushi::testing
