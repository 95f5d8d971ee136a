#include "client/prefetch_buffer.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace katsubushi::client {
namespace {

using namespace std::chrono_literals;

TEST(PrefetchBuffer, HandsEachIdOnceInOrderUpToItsCapacity) {
  PrefetchBuffer b(3, 1000ms);
  const SteadyTime t0{};
  const std::vector<std::uint64_t> ids{1, 2, 3, 4, 5};
  EXPECT_EQ(b.put(ids, t0), 3u);  // 4 and 5: no room
  EXPECT_EQ(b.room(t0), 0u);
  std::vector<std::uint64_t> out;
  EXPECT_EQ(b.take(2, t0, out), 2u);
  EXPECT_EQ(b.take(5, t0, out), 1u);
  EXPECT_EQ(b.take(5, t0, out), 0u);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(b.room(t0), 3u);
}

TEST(PrefetchBuffer, DropsAndCountsIdsOlderThanMaxAge) {
  PrefetchBuffer b(10, 100ms);
  const SteadyTime t0{};
  const std::vector<std::uint64_t> old_ids{1, 2};
  const std::vector<std::uint64_t> new_ids{3};
  b.put(old_ids, t0);
  b.put(new_ids, t0 + 60ms);
  std::vector<std::uint64_t> out;
  EXPECT_EQ(b.take(10, t0 + 100ms, out), 1u);  // 1 and 2 are 100 ms old: dropped
  EXPECT_EQ(out, (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(b.expired(), 2u);
  EXPECT_EQ(b.size(), 0u);
}

TEST(PrefetchBuffer, AnOlderIdBehindANewerOneIsStillDropped) {
  PrefetchBuffer b(10, 100ms);
  const SteadyTime t0{};
  const std::vector<std::uint64_t> newer{1};
  const std::vector<std::uint64_t> older{2};
  b.put(newer, t0 + 50ms);
  b.put(older, t0);  // two calls side by side put out of order
  std::vector<std::uint64_t> out;
  EXPECT_EQ(b.take(10, t0 + 120ms, out), 1u);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(b.expired(), 1u);
}

}  // namespace
}  // namespace katsubushi::client
