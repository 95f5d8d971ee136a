#include "service/id_service.hpp"

namespace katsubushi::service {

IdService::Issued IdService::issue_all(std::span<std::uint64_t> out) {
  const auto result = generator_.next_all(out);
  if (result.not_before_unix_ms != 0) return result;
  const std::size_t n = out.size();
  counters_.cmd_get.fetch_add(n, std::memory_order_relaxed);
  if (result.error) {
    counters_.get_misses.fetch_add(n, std::memory_order_relaxed);
  } else {
    counters_.get_hits.fetch_add(n, std::memory_order_relaxed);
  }
  return result;
}

IdService::Issued IdService::issue_some(std::span<std::uint64_t> out) {
  const auto result = generator_.next_batch(out);
  counters_.cmd_get.fetch_add(result.filled, std::memory_order_relaxed);
  counters_.get_hits.fetch_add(result.filled, std::memory_order_relaxed);
  if (result.error) count_misses(out.size() - result.filled);
  return result;
}

void IdService::count_misses(std::size_t n) {
  counters_.cmd_get.fetch_add(n, std::memory_order_relaxed);
  counters_.get_misses.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace katsubushi::service
