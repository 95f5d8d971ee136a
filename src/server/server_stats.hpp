// What the server counts, and the full `stats` / `stats settings` replies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "config/config.hpp"
#include "id/generator.hpp"
#include "service/stats.hpp"
#include "state/id_safety.hpp"

namespace katsubushi::server {

struct ServerCounters {
  std::atomic<std::int64_t> curr_connections{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};
  std::atomic<std::uint64_t> idle_kicks{0};
  // Connections alive, from their making on a serving thread to their
  // destruction, whatever they wait on: what the chaos and leak tests watch.
  std::atomic<std::int64_t> live_sessions{0};
  std::atomic<std::uint64_t> accept_errors{0};  // accept() failures (fd shortage and others)
  std::atomic<std::uint64_t> memory_trims{0};   // free heap given back after connections closed
  // -spin-wait: waits of the serving threads in which work came while they
  // spun, and spins that ended in a sleep (spin_wait.hpp).
  std::atomic<std::uint64_t> spin_hits{0};
  std::atomic<std::uint64_t> spin_misses{0};
};

class ServerStats final : public service::StatsSource {
 public:
  ServerStats(const config::Config& config, id::IdGenerator& generator,
              ServerCounters& server, const service::ProtocolCounters& protocol);

  service::StatList general_stats() override;
  service::StatList settings_stats() override;
  // Zeroes the server's totals (connections made, refused, reaped, accept
  // failures), as memcached's `stats reset` does; gauges stay.
  void reset_stats() override;

  // Where the lease and reservation figures come from; set before serving.
  void set_id_safety_source(state::IdSafetySource source) { id_safety_ = std::move(source); }

 private:
  const config::Config& config_;
  id::IdGenerator& generator_;
  ServerCounters& server_;
  const service::ProtocolCounters& protocol_;
  const std::chrono::steady_clock::time_point started_;
  state::IdSafetySource id_safety_;
};

}  // namespace katsubushi::server
