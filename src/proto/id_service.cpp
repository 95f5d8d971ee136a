#include "proto/id_service.hpp"

namespace katsubushi::proto {

std::error_code IdService::issue(std::span<std::uint64_t> out) {
  const std::size_t n = out.size();
  counters_.cmd_get.fetch_add(n, std::memory_order_relaxed);
  const auto result = generator_.next_batch(out);
  if (result.error) {
    counters_.get_misses.fetch_add(n, std::memory_order_relaxed);
    return result.error;
  }
  counters_.get_hits.fetch_add(n, std::memory_order_relaxed);
  return {};
}

}  // namespace katsubushi::proto
