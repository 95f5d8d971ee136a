#include "service/id_service.hpp"

#include "id/layout.hpp"

namespace katsubushi::service {

std::uint32_t IdService::keep_back() const noexcept {
  return share_taken_.load(std::memory_order_relaxed) >= kBulkAfterIds ? kKeptForOthers : 0;
}

void IdService::note_share(std::span<const std::uint64_t> issued) noexcept {
  if (issued.empty()) return;
  // A batch is one millisecond's (next_batch's contract): its last id says which.
  const auto ms = static_cast<std::int64_t>(id::decode(issued.back()).timestamp_ms);
  const auto n = static_cast<std::uint32_t>(issued.size());
  if (share_ms_.exchange(ms, std::memory_order_relaxed) == ms) {
    share_taken_.fetch_add(n, std::memory_order_relaxed);
  } else {
    share_taken_.store(n, std::memory_order_relaxed);
  }
}

IdService::Issued IdService::issue_all(std::span<std::uint64_t> out) {
  const auto result = generator_.next_all(out, keep_back());
  if (result.not_before_unix_ms != 0) return result;
  if (!result.error) note_share(out);
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
  const auto result = generator_.next_batch(out, keep_back());
  note_share(std::span<const std::uint64_t>(out.data(), result.filled));
  counters_.cmd_get.fetch_add(result.filled, std::memory_order_relaxed);
  counters_.get_hits.fetch_add(result.filled, std::memory_order_relaxed);
  if (result.error) count_misses(out.size() - result.filled);
  return result;
}

IdService::Issued IdService::issue_ahead(std::span<std::uint64_t> out) {
  const auto result = generator_.next_batch(out, keep_back());
  note_share(std::span<const std::uint64_t>(out.data(), result.filled));
  counters_.cmd_get.fetch_add(result.filled, std::memory_order_relaxed);
  counters_.get_hits.fetch_add(result.filled, std::memory_order_relaxed);
  if (result.error && result.filled == 0) count_misses(1);
  return result;
}

void IdService::count_misses(std::size_t n) {
  counters_.cmd_get.fetch_add(n, std::memory_order_relaxed);
  counters_.get_misses.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace katsubushi::service
