#include "http/http_session.hpp"

#include <string_view>

namespace katsubushi::http {

namespace {

constexpr std::string_view kNotYet =
    "HTTP/1.1 501 Not Implemented\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 53\r\n"
    "Connection: close\r\n"
    "\r\n"
    "this port speaks the memcached protocol; try get id\r\n";

}  // namespace

HttpSession::HttpSession(const proto::SessionServices& services,
                         const proto::SessionLimits& limits)
    : services_(services), limits_(limits) {}

void HttpSession::process(proto::InputBuffer& in, proto::OutputBuffer& out) {
  // Not served yet: a real HTTP answer, so curl against the memcached port
  // gets one, then a close.
  out.append(kNotYet);
  closing_ = true;
  in.clear();
}

}  // namespace katsubushi::http
