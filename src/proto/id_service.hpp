// The one way every protocol (text, meta, binary, HTTP, later gRPC) gets ids,
// so each counts keys asked, answered and missed the same way.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

#include "id/generator.hpp"
#include "proto/stats.hpp"

namespace katsubushi::proto {

class IdService {
 public:
  IdService(id::IdGenerator& generator, ProtocolCounters& counters)
      : generator_(generator), counters_(counters) {}

  // Fills `out` with fresh ids, or returns why it cannot; then no entry of
  // `out` is to be sent (ids already drawn are wasted, never repeated).
  // Counts out.size() keys in cmd_get, and each as a hit or a miss.
  std::error_code issue(std::span<std::uint64_t> out);

 private:
  id::IdGenerator& generator_;
  ProtocolCounters& counters_;
};

}  // namespace katsubushi::proto
