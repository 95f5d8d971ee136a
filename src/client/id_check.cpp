#include "client/id_check.hpp"

#include "id/layout.hpp"

namespace katsubushi::client {

std::string check_ids(std::span<const std::uint64_t> ids, std::size_t asked,
                      std::int64_t now_unix_ms, std::chrono::milliseconds max_future_skew) {
  if (ids.size() != asked) {
    return std::to_string(ids.size()) + " ids where " + std::to_string(asked) + " were asked";
  }
  const std::int64_t latest_ms = now_unix_ms - id::kEpochUnixMs + max_future_skew.count();
  std::uint64_t previous = 0;
  for (const std::uint64_t value : ids) {
    const auto name = std::to_string(value);
    if (value == 0) return "id 0";
    if ((value >> 63) != 0) return "id " + name + " has the top bit set";
    const auto parts = id::decode(value);
    if (parts.worker_id == 0) return "id " + name + " has worker id 0";
    if (parts.timestamp_ms > latest_ms) {
      return "id " + name + " is from " +
             std::to_string(parts.timestamp_ms - latest_ms + max_future_skew.count()) +
             " ms in the future";
    }
    if (value <= previous) return "id " + name + " not above the one before it in the reply";
    previous = value;
  }
  return {};
}

}  // namespace katsubushi::client
