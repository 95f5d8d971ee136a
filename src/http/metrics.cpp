#include "http/metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http/json.hpp"

namespace katsubushi::http {

namespace {

using enum MetricKind;

// In the order server_stats.cpp reports them.
constexpr std::array kMetrics{
    MetricInfo{"pid", "katsubushi_pid", gauge, "Process id of the daemon."},
    MetricInfo{"uptime", "katsubushi_uptime_seconds", gauge, "Seconds since the daemon started."},
    MetricInfo{"time", "katsubushi_time_seconds", gauge,
               "Unix time on the daemon's clock, in seconds."},
    MetricInfo{"version", "katsubushi_build_info", info, "Version of the daemon.", "version"},
    MetricInfo{"curr_connections", "katsubushi_curr_connections", gauge,
               "Client connections open now."},
    MetricInfo{"total_connections", "katsubushi_connections_total", counter,
               "Client connections accepted since start."},
    MetricInfo{"cmd_get", "katsubushi_cmd_get_total", counter,
               "Ids requested (keys of get, ids of HTTP), answered or not."},
    MetricInfo{"get_hits", "katsubushi_get_hits_total", counter, "Ids requested and answered."},
    MetricInfo{"get_misses", "katsubushi_get_misses_total", counter,
               "Ids requested that the generator could not issue."},
    MetricInfo{"worker_id", "katsubushi_worker_id", gauge, "Worker id in the ids issued."},
    MetricInfo{"threads", "katsubushi_threads", gauge, "Threads serving connections."},
    MetricInfo{"max_connections", "katsubushi_max_connections", gauge,
               "Connections served at once (-max-connections)."},
    MetricInfo{"rejected_connections", "katsubushi_rejected_connections_total", counter,
               "Connections refused over -max-connections."},
    MetricInfo{"idle_kicks", "katsubushi_idle_kicks_total", counter,
               "Connections closed by the idle timeout."},
    MetricInfo{"live_sessions", "katsubushi_live_sessions", gauge,
               "Connections alive, from accept to close."},
    MetricInfo{"ids_issued", "katsubushi_ids_issued_total", counter, "Ids issued."},
    MetricInfo{"sequence_waits", "katsubushi_sequence_waits_total", counter,
               "Times a millisecond's 4096 ids were used up and the next was awaited."},
    MetricInfo{"clock_drift_ms", "katsubushi_clock_drift_seconds", gauge,
               "Wall clock minus the daemon's monotonic estimate of it, in seconds.", {},
               MetricScale::milli_to_base},
    MetricInfo{"clock_waits", "katsubushi_clock_waits_total", counter,
               "Times the clock was behind the last issued id and was waited for."},
    MetricInfo{"lease_state", "katsubushi_lease_state", info,
               "Where the worker id comes from and whether it is held.", "state"},
    MetricInfo{"lease_refresh_failures", "katsubushi_lease_refresh_failures_total", counter,
               "Failed refreshes of the worker-id lease."},
    MetricInfo{"rusage_user", "katsubushi_rusage_user_seconds_total", counter,
               "CPU time spent in user mode, in seconds."},
    MetricInfo{"rusage_system", "katsubushi_rusage_system_seconds_total", counter,
               "CPU time spent in the kernel, in seconds."},
    MetricInfo{"accept_errors", "katsubushi_accept_errors_total", counter,
               "Failed accept calls (fd shortage and others)."},
    MetricInfo{"generator_errors", "katsubushi_generator_errors_total", counter,
               "Requests the id generator refused."},
    MetricInfo{"lease_changes", "katsubushi_lease_changes_total", counter,
               "Worker ids gained from Redis after the first (after a lease was lost)."},
    MetricInfo{"reserved_until_ms", "katsubushi_reserved_until_seconds", gauge,
               "Ids carry timestamps below this mark, written to the state file and Redis "
               "(seconds since the id epoch, 2015-01-01; 0 without reservations).", {},
               MetricScale::milli_to_base},
    MetricInfo{"state_writes", "katsubushi_state_writes_total", counter,
               "State file writes (reservations and the last mark at a clean stop)."},
    MetricInfo{"state_write_failures", "katsubushi_state_write_failures_total", counter,
               "State file writes that failed."},
    MetricInfo{"memory_trims", "katsubushi_memory_trims_total", counter,
               "Times free heap was given back to the system after connections closed."},
    MetricInfo{"clock_synced", "katsubushi_clock_synced", gauge,
               "1 when the kernel says an NTP daemon keeps the clock synchronised (adjtimex)."},
    MetricInfo{"clock_max_error_us", "katsubushi_clock_max_error_seconds", gauge,
               "The kernel's bound on the clock's error (adjtimex maxerror), in seconds.", {},
               MetricScale::micro_to_base},
    MetricInfo{"store_clock_skew_ms", "katsubushi_store_clock_skew_seconds", gauge,
               "The lease store's clock (Redis TIME) minus ours at the last claim or refresh, "
               "in seconds; 0 without a lease and with etcd.", {},
               MetricScale::milli_to_base},
    MetricInfo{"lease_store", "katsubushi_lease_store", info,
               "Where worker ids are leased from: none (-worker-id), redis or etcd.", "store"},
    MetricInfo{"event_loop", "katsubushi_event_loop", info,
               "The serving threads' event loops: io_uring, or epoll (-io-engine).", "loop"},
    MetricInfo{"worker_id_count", "katsubushi_worker_ids_held", gauge,
               "Worker ids this process holds (-worker-id-count)."},
    MetricInfo{"worker_ids_serving", "katsubushi_worker_ids_serving", gauge,
               "Worker ids issuing now (held, their lease valid, their marks passed)."},
    MetricInfo{"spin_hits", "katsubushi_spin_hits_total", counter,
               "Waits of the serving threads that work ended while they spun (-spin-wait)."},
    MetricInfo{"spin_misses", "katsubushi_spin_misses_total", counter,
               "Spins of the serving threads that ended in a sleep (-spin-wait)."},
};

// Each held worker id's stats, "worker:W:<stat>": one family per stat, a
// sample per worker id labelled worker_id.
constexpr std::string_view kPerWorkerPrefix = "worker:";
constexpr std::array kPerWorkerMetrics{
    MetricInfo{"ids_issued", "katsubushi_worker_ids_issued_total", counter,
               "Ids issued with this worker id."},
    MetricInfo{"state", "katsubushi_worker_state", info,
               "Whether this worker id issues (serving) or why not (no_lease, clock_untrusted, "
               "below_floor, not_reserved, stopped).",
               "state"},
};

std::string_view type_name(MetricKind kind) {
  switch (kind) {
    case counter:
      return "counter";
    case gauge:
    case info:
      return "gauge";
  }
  return "untyped";
}

// [a-zA-Z_][a-zA-Z0-9_]*: a metric name without the colons kept for rules,
// which is also a label name and a stat name we can expose as it is.
bool valid_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
  });
}

// HELP text escapes \ and newline; label values also ".
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else if (quote && c == '"') {
      out.append("\\\"");
    } else {
      out += c;
    }
  }
}

// "1234" ms as "1.234" s, exactly; nullopt-like false for a non-integer.
// `value`, an integer count of 1/10^digits of the unit, as a decimal of the unit.
bool append_scaled_as_base(std::string& out, std::string_view value, int digits) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size()) return false;
  std::uint64_t unit = 1;
  for (int i = 0; i < digits; ++i) unit *= 10;
  // Magnitude as unsigned: -INT64_MIN does not fit an int64.
  const std::uint64_t mag =
      n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  if (n < 0) out += '-';
  out += std::to_string(mag / unit);
  out += '.';
  std::uint64_t frac = mag % unit;
  std::string tail(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, frac /= 10) {
    tail[static_cast<std::size_t>(i)] = static_cast<char>('0' + frac % 10);
  }
  out += tail;
  return true;
}

void append_family_head(std::string& out, std::string_view metric, std::string_view help,
                        std::string_view type) {
  out.append("# HELP ").append(metric).append(" ");
  append_escaped(out, help, false);
  out.append("\n# TYPE ").append(metric).append(" ").append(type).append("\n");
}

void append_known(std::string& out, const MetricInfo& m, std::string_view value) {
  std::string sample;
  if (m.kind == info) {
    sample.append(m.metric).append("{").append(m.label).append("=\"");
    append_escaped(sample, value, true);
    sample.append("\"} 1\n");
  } else if (m.scale != MetricScale::as_is) {
    sample.append(m.metric).append(" ");
    if (!append_scaled_as_base(sample, value, m.scale == MetricScale::milli_to_base ? 3 : 6)) {
      return;
    }
    sample += '\n';
  } else {
    if (!is_json_number(value)) return;
    sample.append(m.metric).append(" ").append(value).append("\n");
  }
  append_family_head(out, m.metric, m.help, type_name(m.kind));
  out.append(sample);
}

// "worker:W:<stat>" as (W, its row), or nothing.
std::optional<std::pair<std::string_view, const MetricInfo*>> per_worker(
    std::string_view name) noexcept {
  if (!name.starts_with(kPerWorkerPrefix)) return std::nullopt;
  name.remove_prefix(kPerWorkerPrefix.size());
  const std::size_t colon = name.find(':');
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  const std::string_view worker = name.substr(0, colon);
  if (!std::all_of(worker.begin(), worker.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const std::string_view stat = name.substr(colon + 1);
  for (const MetricInfo& m : kPerWorkerMetrics) {
    if (m.stat == stat) return std::pair{worker, &m};
  }
  return std::nullopt;
}

// The per-worker families, each whole, in the order of their first stat.
void append_per_worker(std::string& out, const service::StatList& stats) {
  for (const MetricInfo& m : kPerWorkerMetrics) {
    std::string samples;
    std::vector<std::string_view> seen;  // a stat named twice keeps its first value
    for (const auto& [name, value] : stats) {
      const auto w = per_worker(name);
      if (!w || w->second != &m) continue;
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
      seen.push_back(name);
      std::string sample;
      sample.append(m.metric).append("{worker_id=\"").append(w->first).append("\"");
      if (m.kind == info) {
        sample.append(",").append(m.label).append("=\"");
        append_escaped(sample, value, true);
        sample.append("\"} 1\n");
      } else if (is_json_number(value)) {
        sample.append("} ").append(value).append("\n");
      } else {
        continue;
      }
      samples.append(sample);
    }
    if (samples.empty()) continue;
    append_family_head(out, m.metric, m.help, type_name(m.kind));
    out.append(samples);
  }
}

}  // namespace

std::span<const MetricInfo> metric_table() noexcept { return kMetrics; }

const MetricInfo* find_metric(std::string_view stat) noexcept {
  if (const auto w = per_worker(stat)) return w->second;
  const auto it =
      std::find_if(kMetrics.begin(), kMetrics.end(), [&](const auto& m) { return m.stat == stat; });
  return it == kMetrics.end() ? nullptr : &*it;
}

void append_metrics(std::string& out, const service::StatList& stats) {
  // A family may appear once: a stat named twice keeps its first value.
  std::vector<std::string_view> seen;
  for (const auto& [name, value] : stats) {
    if (per_worker(name)) continue;
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    if (const MetricInfo* m = find_metric(name)) {
      append_known(out, *m, value);
      continue;
    }
    if (!valid_name(name) || !is_json_number(value)) continue;
    const std::string metric = "katsubushi_" + name;
    // Never shadow a family of the table.
    if (std::any_of(kMetrics.begin(), kMetrics.end(),
                    [&](const auto& m) { return m.metric == metric; })) {
      continue;
    }
    append_family_head(out, metric, "Stat " + name + " of the daemon.", "untyped");
    out.append(metric).append(" ").append(value).append("\n");
  }
  append_per_worker(out, stats);
}

}  // namespace katsubushi::http
