// -check: every value a decimal uint64, the ids of one connection strictly
// increasing in the order received, and no id twice across all connections.
// Each connection keeps its ids (already sorted, since they increase); the
// duplicate search merges them once the run is over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace katsubushi::bench {

// A decimal uint64 with no sign, blank or leading "+", at most 20 digits.
std::optional<std::uint64_t> parse_id(std::string_view value) noexcept;

class ConnectionIdCheck {
 public:
  // Expected ids, to reserve room for them at the start instead of while
  // the clock runs.
  void reserve(std::size_t ids) { ids_.reserve(ids); }

  // Records one value; false at the first violation (and from then on, every
  // later value is ignored): violation() says what it was.
  bool add(std::string_view value);

  // Records the ids of one reply (gRPC's FetchMulti): they must strictly
  // increase, and with `in_order` follow every id recorded before. Without
  // it (calls answered in either order) they are kept as they come, and
  // finish() sorts them and looks for an id received twice.
  bool add_reply(std::span<const std::uint64_t> ids, bool in_order);
  // After the last value: what add_reply() left unsorted is sorted.
  void finish();

  bool ok() const noexcept { return violation_.empty(); }
  const std::string& violation() const noexcept { return violation_; }
  const std::vector<std::uint64_t>& ids() const noexcept { return ids_; }
  // The ids, moved out (for the duplicate search at the end).
  std::vector<std::uint64_t> take_ids() noexcept { return std::move(ids_); }

 private:
  bool accept(std::uint64_t id);

  std::vector<std::uint64_t> ids_;
  std::string violation_;
  bool unsorted_ = false;
};

// The first id present in two connections' lists (each strictly increasing),
// or nullopt.
std::optional<std::uint64_t> find_duplicate(std::span<const std::vector<std::uint64_t>> lists);

}  // namespace katsubushi::bench
