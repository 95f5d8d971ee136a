// What the server counts, and the full `stats` / `stats settings` replies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "config/config.hpp"
#include "id/generator.hpp"
#include "proto/stats.hpp"

namespace katsubushi::server {

struct ServerCounters {
  std::atomic<std::int64_t> curr_connections{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};
  std::atomic<std::uint64_t> idle_kicks{0};
  // Connection coroutines alive: what the chaos and leak tests watch.
  std::atomic<std::int64_t> live_sessions{0};
  std::atomic<std::uint64_t> accept_errors{0};  // accept() failures (fd shortage and others)
};

class ServerStats final : public proto::StatsSource {
 public:
  ServerStats(const config::Config& config, id::IdGenerator& generator,
              ServerCounters& server, const proto::ProtocolCounters& protocol);

  proto::StatList general_stats() override;
  proto::StatList settings_stats() override;
  // Zeroes the server's totals (connections made, refused, reaped, accept
  // failures), as memcached's `stats reset` does; gauges stay.
  void reset_stats() override;

 private:
  const config::Config& config_;
  id::IdGenerator& generator_;
  ServerCounters& server_;
  const proto::ProtocolCounters& protocol_;
  const std::chrono::steady_clock::time_point started_;
};

}  // namespace katsubushi::server
