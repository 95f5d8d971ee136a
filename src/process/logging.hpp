// spdlog set up from -log-level and -log-format, and a rate limit for
// messages a misbehaving client or an fd shortage could repeat endlessly.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace katsubushi::process {

// Throws std::invalid_argument for an unknown level or format.
void setup_logging(const std::string& level, const std::string& format);

// Lets through at most one message per interval and reports how many were
// dropped in between. Thread-safe.
class LogRateLimit {
 public:
  explicit LogRateLimit(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_ms_(interval.count()) {}

  // True if the caller may log now; `suppressed` is how many were dropped since.
  bool allow(std::uint64_t& suppressed);

 private:
  const std::int64_t interval_ms_;
  std::atomic<std::int64_t> next_ms_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace katsubushi::process
