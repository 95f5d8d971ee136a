// What a session is given: the services it calls and the limits it keeps.
#pragma once

#include <cstddef>
#include <string_view>

#include "config/limits.hpp"
#include "id/generator.hpp"
#include "service/stats.hpp"

namespace katsubushi::service {

struct SessionLimits {
  // A request line longer than this gets CLIENT_ERROR and the connection closes.
  std::size_t max_line_bytes = config::kDefaultMaxLineBytes;
  // Past this much unsent output the core stops taking requests (backpressure).
  std::size_t max_output_bytes = config::kMaxOutputBytes;
  // A storage command announcing more than this is refused and the connection
  // closes: we would have to skip it blind to stay in sync.
  std::size_t max_data_block_bytes = config::kMaxDataBlockBytes;
  // A get or gets with more keys is answered CLIENT_ERROR (the connection
  // stays open).
  std::size_t max_keys_per_get = config::kDefaultMaxKeysPerGet;
};

struct SessionServices {
  id::IdGenerator& generator;
  ProtocolCounters& counters;
  StatsSource* stats = nullptr;  // null: `stats` answers with an empty list
  std::string_view version = "0.0.0";
};

}  // namespace katsubushi::service
