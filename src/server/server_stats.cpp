#include "server/server_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "config/duration.hpp"
#include "id/kernel_clock.hpp"
#include "server/event_engine.hpp"
#include "service/held_id_stats.hpp"
#include "version.hpp"

namespace katsubushi::server {

namespace {

std::string seconds_micro(const timeval& tv) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
  return buf;
}

template <typename T>
std::string str(const std::atomic<T>& v) {
  return std::to_string(v.load(std::memory_order_relaxed));
}

}  // namespace

ServerStats::ServerStats(const config::Config& config, id::IdGenerator& generator,
                         ServerCounters& server, const service::ProtocolCounters& protocol)
    : config_(config),
      generator_(generator),
      server_(server),
      protocol_(protocol),
      started_(std::chrono::steady_clock::now()) {}

service::StatList ServerStats::general_stats() {
  using namespace std::chrono;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const auto gen = generator_.counters();
  const state::IdSafetyFigures safety = id_safety_ ? id_safety_() : state::IdSafetyFigures{};
  const id::KernelClock kernel = id::read_kernel_clock();
  const auto held = generator_.held();
  // go-katsubushi's nine first, in its order; then ours; then each held worker id's.
  service::StatList stats{
      {"pid", std::to_string(getpid())},
      {"uptime", std::to_string(duration_cast<seconds>(steady_clock::now() - started_).count())},
      {"time", std::to_string(std::time(nullptr))},
      {"version", std::string(kVersion)},
      {"curr_connections", str(server_.curr_connections)},
      {"total_connections", str(server_.total_connections)},
      {"cmd_get", str(protocol_.cmd_get)},
      {"get_hits", str(protocol_.get_hits)},
      {"get_misses", str(protocol_.get_misses)},
      {"worker_id", std::to_string(generator_.worker_id())},
      {"threads", std::to_string(config_.threads)},
      {"max_connections", std::to_string(config_.max_connections)},
      {"rejected_connections", str(server_.rejected_connections)},
      {"idle_kicks", str(server_.idle_kicks)},
      {"live_sessions", str(server_.live_sessions)},
      {"ids_issued", std::to_string(gen.ids_issued)},
      {"sequence_waits", std::to_string(gen.sequence_waits)},
      {"clock_drift_ms", std::to_string(generator_.clock().drift_ms())},
      {"clock_waits", std::to_string(gen.clock_waits + safety.clock_waits)},
      {"lease_state", safety.lease_state},
      {"lease_refresh_failures", std::to_string(safety.lease_refresh_failures)},
      {"rusage_user", seconds_micro(ru.ru_utime)},
      {"rusage_system", seconds_micro(ru.ru_stime)},
      {"accept_errors", str(server_.accept_errors)},
      {"generator_errors", std::to_string(gen.errors)},
      {"lease_changes", std::to_string(safety.lease_changes)},
      {"reserved_until_ms", std::to_string(safety.reserved_until_ms)},
      {"state_writes", std::to_string(safety.state_writes)},
      {"state_write_failures", std::to_string(safety.state_write_failures)},
      {"memory_trims", str(server_.memory_trims)},
      {"clock_synced", kernel.synced ? "1" : "0"},
      {"clock_max_error_us", std::to_string(kernel.max_error_us)},
      {"store_clock_skew_ms", std::to_string(safety.store_clock_skew_ms)},
      {"lease_store", safety.lease_store},
      {"event_loop", std::string(engine_name(kBuiltEngine))},
      {"worker_id_count", std::to_string(held.size())},
      {"worker_ids_serving", std::to_string(service::serving_count(held))},
      {"spin_hits", str(server_.spin_hits)},
      {"spin_misses", str(server_.spin_misses)},
  };
  service::append_held_id_stats(stats, held);
  return stats;
}

void ServerStats::reset_stats() {
  server_.total_connections.store(0, std::memory_order_relaxed);
  server_.rejected_connections.store(0, std::memory_order_relaxed);
  server_.idle_kicks.store(0, std::memory_order_relaxed);
  server_.accept_errors.store(0, std::memory_order_relaxed);
  server_.spin_hits.store(0, std::memory_order_relaxed);
  server_.spin_misses.store(0, std::memory_order_relaxed);
}

service::StatList ServerStats::settings_stats() {
  return {
      {"maxconns", std::to_string(config_.max_connections)},
      {"tcpport", config_.sock.empty() ? std::to_string(config_.port) : "0"},
      {"domain_socket", config_.sock.empty() ? "NULL" : config_.sock},
      {"num_threads", std::to_string(config_.threads)},
      {"io_engine", config_.io_engine},
      {"spin_wait", config::format_duration(config_.spin_wait)},
      {"idle_timeout", config::format_duration(config_.idle_timeout)},
      {"worker_id", std::to_string(generator_.worker_id())},
      {"max_line_bytes", std::to_string(config_.max_line_bytes)},
      {"max_keys_per_get", std::to_string(config_.max_keys_per_get)},
      {"shutdown_timeout", config::format_duration(config_.shutdown_timeout)},
      {"log_level", config_.log_level},
      {"log_format", config_.log_format},
      {"state_file", config_.state_file.empty() ? "NULL" : config_.state_file},
      {"max_clock_wait", config::format_duration(config_.max_clock_wait)},
  };
}

}  // namespace katsubushi::server
