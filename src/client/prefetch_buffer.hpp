// Ids fetched ahead (the double buffer of PD's TSO and Meituan's Leaf, kept
// simple): at most `capacity`, each handed out once, in the order fetched,
// and only while younger than `max_age`; older ones are dropped and counted,
// never handed out (a client that stood idle would otherwise hand out ids
// minutes older than the clock). Not thread-safe: the client holds its lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "client/clock.hpp"

namespace katsubushi::client {

class PrefetchBuffer {
 public:
  PrefetchBuffer(std::size_t capacity, std::chrono::milliseconds max_age)
      : capacity_(capacity), max_age_(max_age) {}

  // Moves up to `n` ids still young at `now` to `out`; returns how many.
  std::size_t take(std::size_t n, SteadyTime now, std::vector<std::uint64_t>& out);
  // Keeps as many of `ids` (fetched at `fetched_at`) as there is room for;
  // returns how many it kept.
  std::size_t put(std::span<const std::uint64_t> ids, SteadyTime fetched_at);
  // Room left once the ids too old at `now` are dropped.
  std::size_t room(SteadyTime now);

  std::size_t size() const noexcept { return ids_.size(); }
  std::uint64_t expired() const noexcept { return expired_; }

 private:
  void drop_expired(SteadyTime now);

  struct Entry {
    std::uint64_t id;
    SteadyTime fetched_at;
  };
  std::size_t capacity_;
  std::chrono::milliseconds max_age_;
  std::deque<Entry> ids_;
  std::uint64_t expired_ = 0;
};

}  // namespace katsubushi::client
