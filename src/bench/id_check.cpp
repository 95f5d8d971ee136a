#include "bench/id_check.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace katsubushi::bench {

std::optional<std::uint64_t> parse_id(std::string_view value) noexcept {
  // from_chars takes no sign or blank; the length cap keeps "000…0001"
  // (as long as you like) from passing as a uint64 no server would write.
  if (value.empty() || value.size() > 20) return std::nullopt;
  std::uint64_t id = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
  if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
  return id;
}

bool ConnectionIdCheck::add(std::string_view value) {
  if (!violation_.empty()) return false;
  const auto id = parse_id(value);
  if (!id) {
    // Quoted, and cut so a huge value does not flood the terminal.
    constexpr std::size_t kShown = 40;
    violation_ = "value \"" + std::string(value.substr(0, kShown)) +
                 (value.size() > kShown ? "..." : "") + "\" is not a decimal uint64";
    return false;
  }
  return accept(*id);
}

bool ConnectionIdCheck::accept(std::uint64_t id) {
  if (!ids_.empty() && id <= ids_.back()) {
    violation_ = "id " + std::to_string(id) + " after " + std::to_string(ids_.back()) +
                 " on the same connection (ids must strictly increase)";
    return false;
  }
  ids_.push_back(id);
  return true;
}

bool ConnectionIdCheck::add_reply(std::span<const std::uint64_t> ids, bool in_order) {
  if (!violation_.empty()) return false;
  if (in_order) {
    for (const std::uint64_t id : ids) {
      if (!accept(id)) return false;
    }
    return true;
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] <= ids[i - 1]) {
      violation_ = "id " + std::to_string(ids[i]) + " after " + std::to_string(ids[i - 1]) +
                   " in one reply (ids must strictly increase)";
      return false;
    }
  }
  unsorted_ = unsorted_ || (!ids.empty() && !ids_.empty() && ids.front() <= ids_.back());
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  return true;
}

void ConnectionIdCheck::finish() {
  if (!unsorted_) return;
  unsorted_ = false;
  std::sort(ids_.begin(), ids_.end());
  const auto dup = std::adjacent_find(ids_.begin(), ids_.end());
  if (dup != ids_.end() && violation_.empty()) {
    violation_ = "id " + std::to_string(*dup) + " received twice on the same connection";
  }
}

std::optional<std::uint64_t> find_duplicate(std::span<const std::vector<std::uint64_t>> lists) {
  std::size_t total = 0;
  for (const auto& l : lists) total += l.size();
  std::vector<std::uint64_t> all;
  all.reserve(total);
  // Each list is sorted: concatenate them, then merge neighbouring runs
  // pairwise until one is left (log2(lists) passes over the ids).
  std::vector<std::size_t> starts;
  for (const auto& l : lists) {
    starts.push_back(all.size());
    all.insert(all.end(), l.begin(), l.end());
  }
  const auto at = [&](std::size_t i) { return all.begin() + static_cast<std::ptrdiff_t>(i); };
  while (starts.size() > 1) {
    std::vector<std::size_t> merged;
    for (std::size_t r = 0; r < starts.size(); r += 2) {
      merged.push_back(starts[r]);
      if (r + 1 == starts.size()) break;
      const std::size_t end = r + 2 < starts.size() ? starts[r + 2] : all.size();
      std::inplace_merge(at(starts[r]), at(starts[r + 1]), at(end));
    }
    starts = std::move(merged);
  }
  const auto dup = std::adjacent_find(all.begin(), all.end());
  if (dup == all.end()) return std::nullopt;
  return *dup;
}

}  // namespace katsubushi::bench
