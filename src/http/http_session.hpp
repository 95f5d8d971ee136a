// HTTP/1.1 on one connection: sniffed on the main port, or the protocol of
// every connection on -http-port.
#pragma once

#include <cstdint>

#include "proto/buffers.hpp"
#include "proto/session_services.hpp"

namespace katsubushi::http {

class HttpSession {
 public:
  HttpSession(const proto::SessionServices& services, const proto::SessionLimits& limits);

  // Answers every complete request in `in`, stopping early when `out` is
  // over its limit or the session is closing.
  void process(proto::InputBuffer& in, proto::OutputBuffer& out);

  bool closing() const noexcept { return closing_; }
  std::uint64_t completed_requests() const noexcept { return completed_; }

 private:
  [[maybe_unused]] const proto::SessionServices& services_;
  [[maybe_unused]] const proto::SessionLimits& limits_;
  bool closing_ = false;
  std::uint64_t completed_ = 0;
};

}  // namespace katsubushi::http
