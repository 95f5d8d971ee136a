// Checks the client library's daemon tests share (src/client*/
// *_daemon_test.cpp): ids from one daemon, and failover away from a server
// and back to it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "id/layout.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::testing {

// Ids from one daemon: as many as asked, of its worker id, each above the one before.
inline void expect_ids_of(const std::vector<std::uint64_t>& ids, std::size_t n,
                          std::uint32_t worker) {
  ASSERT_EQ(ids.size(), n);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(id::decode(ids[i]).worker_id, worker);
    if (i > 0) {
      EXPECT_GT(ids[i], ids[i - 1]);
    }
  }
}

// One id from `client`, which must come and be new to `seen`: its worker id
// (0 when the fetch failed).
inline std::uint32_t fetch_worker(client::Client& client, std::set<std::uint64_t>& seen) {
  const auto got = client.try_fetch();
  EXPECT_TRUE(got) << got.message();
  if (!got) return 0;
  EXPECT_TRUE(seen.insert(got.ids[0]).second) << got.ids[0];
  return id::decode(got.ids[0]).worker_id;
}

// Fetches until an id of `worker` comes (a server asked again once its
// backoff ran out), at most 500 times, 2 ms apart: whether one came.
inline bool fetch_until_worker(client::Client& client, std::set<std::uint64_t>& seen,
                               std::uint32_t worker) {
  for (int i = 0; i < 500; ++i) {
    if (fetch_worker(client, seen) == worker) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace katsubushi::testing
