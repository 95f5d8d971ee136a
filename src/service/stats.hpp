// Counters the protocol layer keeps, and the seam through which the server
// supplies the rest of the `stats` reply (the core does no I/O itself).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace katsubushi::service {

struct ProtocolCounters {
  std::atomic<std::uint64_t> cmd_get{0};     // keys requested, as memcached counts
  std::atomic<std::uint64_t> get_hits{0};    // keys answered with an id
  std::atomic<std::uint64_t> get_misses{0};  // keys the generator could not serve

  // `stats reset`: memcached zeroes its get counters too. A request on
  // another connection adds to cmd_get before it adds to get_hits or
  // get_misses, so cmd_get loses exactly the hits and misses taken away:
  // cmd_get = get_hits + get_misses keeps holding once requests in flight end.
  void reset() noexcept {
    const std::uint64_t answered = get_hits.exchange(0, std::memory_order_relaxed) +
                                   get_misses.exchange(0, std::memory_order_relaxed);
    std::uint64_t asked = cmd_get.load(std::memory_order_relaxed);
    while (!cmd_get.compare_exchange_weak(asked, asked - std::min(asked, answered),
                                          std::memory_order_relaxed)) {
    }
  }
};

using StatList = std::vector<std::pair<std::string, std::string>>;

class StatsSource {
 public:
  virtual ~StatsSource() = default;
  // `stats` with no group.
  virtual StatList general_stats() = 0;
  // `stats settings`.
  virtual StatList settings_stats() = 0;
  // `stats reset`, after the session has reset its ProtocolCounters: the
  // server zeroes its own totals here. Gauges, settings and everything about
  // ids stay as they are.
  virtual void reset_stats() {}
};

}  // namespace katsubushi::service
