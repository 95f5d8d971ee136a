#include "client/prefetch_buffer.hpp"

#include <algorithm>

namespace katsubushi::client {

void PrefetchBuffer::drop_expired(SteadyTime now) {
  // Fetched in order, so the oldest are in front.
  while (!ids_.empty() && now - ids_.front().fetched_at >= max_age_) {
    ids_.pop_front();
    ++expired_;
  }
}

std::size_t PrefetchBuffer::take(std::size_t n, SteadyTime now, std::vector<std::uint64_t>& out) {
  std::size_t count = 0;
  // Each one's age is looked at: ids put by calls that ran side by side may
  // be a little out of order.
  while (count < n && !ids_.empty()) {
    const Entry e = ids_.front();
    ids_.pop_front();
    if (now - e.fetched_at >= max_age_) {
      ++expired_;
      continue;
    }
    out.push_back(e.id);
    ++count;
  }
  return count;
}

std::size_t PrefetchBuffer::put(std::span<const std::uint64_t> ids, SteadyTime fetched_at) {
  const std::size_t count = std::min(ids.size(), capacity_ - std::min(capacity_, ids_.size()));
  for (std::size_t i = 0; i < count; ++i) ids_.push_back({ids[i], fetched_at});
  return count;
}

std::size_t PrefetchBuffer::room(SteadyTime now) {
  drop_expired(now);
  return capacity_ - std::min(capacity_, ids_.size());
}

}  // namespace katsubushi::client
