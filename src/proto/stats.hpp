// Counters the protocol layer keeps, and the seam through which the server
// supplies the rest of the `stats` reply (the core does no I/O itself).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace katsubushi::proto {

struct ProtocolCounters {
  std::atomic<std::uint64_t> cmd_get{0};     // keys requested, as memcached counts
  std::atomic<std::uint64_t> get_hits{0};    // keys answered with an id
  std::atomic<std::uint64_t> get_misses{0};  // keys the generator could not serve
};

using StatList = std::vector<std::pair<std::string, std::string>>;

class StatsSource {
 public:
  virtual ~StatsSource() = default;
  // `stats` with no group.
  virtual StatList general_stats() = 0;
  // `stats settings`.
  virtual StatList settings_stats() = 0;
};

}  // namespace katsubushi::proto
