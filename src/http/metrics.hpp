// /metrics: the stats in the Prometheus text exposition format 0.0.4.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "service/stats.hpp"

namespace katsubushi::http {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricKind {
  counter,  // a monotonic total; its name ends in _total
  gauge,    // a value that goes up and down
  info,     // a non-numeric stat: a gauge of 1 carrying the value as a label
};

// How a stat's value becomes the sample's: Prometheus wants base units.
enum class MetricScale { as_is, milli_to_base, micro_to_base };

// What a stat is as a metric. The stat list cannot say whether a number
// only grows or not, so every stat the server reports has a row here (a
// unit test holds src/server/server_stats.cpp to that).
struct MetricInfo {
  std::string_view stat;    // the name in `stats`
  std::string_view metric;  // the exposed name
  MetricKind kind;
  std::string_view help;
  std::string_view label = {};  // info only: the label carrying the value
  MetricScale scale = MetricScale::as_is;
};

std::span<const MetricInfo> metric_table() noexcept;
// The row of `stat`; for a held worker id's "worker:W:<stat>", the row of
// its family (a sample labelled worker_id="W").
const MetricInfo* find_metric(std::string_view stat) noexcept;

// One family per stat, in the order of `stats`: # HELP, # TYPE, the sample.
// A stat missing from the table is exposed as `untyped` katsubushi_<name>
// when it is numeric and its name is a valid metric name; a value that does
// not fit its row (a counter that is not a number) is left out.
void append_metrics(std::string& out, const service::StatList& stats);

}  // namespace katsubushi::http
