// The memcached binary protocol of one connection (first byte 0x80).
#pragma once

#include <cstdint>

#include "proto/buffers.hpp"
#include "proto/session_services.hpp"

namespace katsubushi::proto {

class BinarySession {
 public:
  BinarySession(const SessionServices& services, const SessionLimits& limits);

  // Answers every complete request in `in`, stopping early when `out` is
  // over its limit or the session is closing.
  void process(InputBuffer& in, OutputBuffer& out);

  bool closing() const noexcept { return closing_; }
  std::uint64_t completed_requests() const noexcept { return completed_; }

 private:
  [[maybe_unused]] const SessionServices& services_;
  [[maybe_unused]] const SessionLimits& limits_;
  bool closing_ = false;
  std::uint64_t completed_ = 0;
};

}  // namespace katsubushi::proto
