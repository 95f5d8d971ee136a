// The session core's limits, built from the configuration alone so the
// server has one place to take them from. Here, not in config/: the front
// ends know the configuration, the configuration knows no front end.
#pragma once

#include "config/config.hpp"
#include "service/session_services.hpp"

namespace katsubushi::service {

inline SessionLimits session_limits(const config::Config& c) {
  return {.max_line_bytes = c.max_line_bytes,
          .max_output_bytes = c.max_output_bytes,
          .max_data_block_bytes = c.max_data_block_bytes,
          .max_keys_per_get = c.max_keys_per_get};
}

}  // namespace katsubushi::service
