#include "session/refusal.hpp"

namespace katsubushi::session {

namespace {

constexpr std::string_view kMemcachedLine = "SERVER_ERROR too many open connections\r\n";

// Retry-After 1 s: a slot frees as soon as any connection closes, and a
// client that waits longer only adds latency. The reply is written once
// without waiting (the socket's buffer takes it), so it is kept short.
constexpr std::string_view kHttp503 =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 26\r\n"
    "Cache-Control: no-store\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too many open connections\n";

}  // namespace

std::string_view too_many_connections_reply(Protocol listener) noexcept {
  return listener == Protocol::http ? kHttp503 : kMemcachedLine;
}

}  // namespace katsubushi::session
