// One connection's bulk work does not hold its thread: a get of 50,000 long
// keys (15 MB of replies, more than the daemon writes in a millisecond, so
// the generator never makes it wait), read as fast as it is written, is
// answered a turn at a time, and a one-id client on the same (only) serving thread is answered
// between turns instead of after the bulk get's END. Not a timed test: it
// checks the order in which replies arrive.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

TEST(DaemonFairness, OneIdClientsAreAnsweredWhileABulkGetIsBeingWritten) {
  constexpr std::size_t kBulkKeys = 50'000;
  const std::string key_stem(240, 'k');
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=23", "-threads=1", "-max-keys-per-get=1000000",
                                "-max-line-bytes=16777216"}))
      << daemon.log();

  // The bulk client reads as fast as it can; `done` once its END is in.
  LoopbackClient bulk;
  ASSERT_TRUE(bulk.connect_tcp("127.0.0.1", daemon.port()));
  std::string line = "get";
  for (std::size_t i = 0; i < kBulkKeys; ++i) line += " " + key_stem + std::to_string(i);
  line += "\r\n";
  ASSERT_TRUE(bulk.send_all(line));
  std::atomic<bool> started{false};
  std::atomic<bool> done{false};
  std::string bulk_reply;
  std::thread reader([&] {
    std::string tail;
    while (bulk.recv_some(tail, Millis(30'000)) == RecvStatus::data) {
      started = true;
      bulk_reply += tail;
      tail.clear();
      if (bulk_reply.ends_with("END\r\n")) break;
    }
    done = true;
  });
  while (!started && !done) std::this_thread::yield();

  // One id at a time on another connection, while the bulk reply streams.
  LoopbackClient one;
  ASSERT_TRUE(one.connect_tcp("127.0.0.1", daemon.port()));
  int answered_during_bulk = 0;
  std::set<std::uint64_t> small_ids;
  while (!done && answered_during_bulk < 50) {
    const auto ids = request_ids(one, "get one");
    ASSERT_TRUE(ids.has_value());
    ASSERT_EQ(ids->size(), 1u);
    small_ids.insert(ids->front().id);
    if (!done) ++answered_during_bulk;
  }
  reader.join();
  ASSERT_TRUE(bulk_reply.ends_with("END\r\n")) << bulk_reply.size() << " bytes of the bulk reply";
  EXPECT_GE(answered_during_bulk, 10)
      << "one-id gets answered before the bulk get's END (one thread serves both)";

  // Every id of both clients is distinct.
  std::vector<IdValue> values;
  std::size_t used = 0;
  ASSERT_EQ(parse_get_reply(bulk_reply, values, used), ParseStatus::complete);
  ASSERT_EQ(values.size(), kBulkKeys);
  for (const IdValue& v : values) EXPECT_EQ(small_ids.count(v.id), 0u);
}

}  // namespace
}  // namespace katsubushi::testing
