// A load run: -conns connections on threads of their own, a warm-up, then a
// measured window (or exactly -requests requests), the server's CPU time
// read from /proc around the window, and every connection's figures summed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/latency_histogram.hpp"
#include "bench/options.hpp"

namespace katsubushi::bench {

struct LoadSummary {
  bool ran = false;    // false when a connection could not be opened
  double seconds = 0;  // the measured window
  std::uint64_t requests = 0;
  std::uint64_t ids = 0;
  std::uint64_t misses = 0;
  std::uint64_t errors = 0;
  std::uint64_t reconnects = 0;  // HTTP connections the server closed, opened again
  std::unique_ptr<LatencyHistogram> latency = std::make_unique<LatencyHistogram>();
  std::optional<std::chrono::microseconds> server_cpu;  // with -pid
  // Connections that failed (connect, closed, timed out, malformed reply):
  // one message each.
  std::vector<std::string> failures;
  // -check: what went wrong, empty when all is well; the ids checked.
  std::vector<std::string> check_violations;
  std::uint64_t ids_checked = 0;
};

LoadSummary run_load(const BenchOptions& options);

}  // namespace katsubushi::bench
