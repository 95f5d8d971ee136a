#include "id/layout.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace katsubushi::id {
namespace {

// The layout written out by hand as the README's "ID layout" gives it (bit 63
// zero, 41 bits of ms, 10 bits of worker id, 12 bits of sequence), independent
// of encode().
constexpr std::uint64_t by_hand(std::uint64_t ms, std::uint64_t worker, std::uint64_t seq) {
  return (ms << 22) | (worker << 12) | seq;
}

TEST(LayoutTest, ConstantsMatchTheDesign) {
  EXPECT_EQ(kMaxWorkerId, 1023u);
  EXPECT_EQ(kSequencePerMs, 4096u);
  EXPECT_EQ(kMaxSequence, 4095u);
  EXPECT_EQ(kMaxTimestamp, (std::int64_t{1} << 41) - 1);
  EXPECT_EQ(kEpochUnixMs, 1420070400000);  // 2015-01-01T00:00:00Z
}

TEST(LayoutTest, EncodeMatchesTheBitLayout) {
  EXPECT_EQ(encode({0, 0, 0}), 0u);
  EXPECT_EQ(encode({0, 0, 1}), 1u);
  EXPECT_EQ(encode({0, 1, 0}), std::uint64_t{1} << 12);
  EXPECT_EQ(encode({1, 0, 0}), std::uint64_t{1} << 22);
  EXPECT_EQ(encode({123456789, 42, 7}), by_hand(123456789, 42, 7));
}

TEST(LayoutTest, RoundTripsEdgeValues) {
  const IdParts cases[] = {
      {0, 0, 0},
      {0, 1, 0},
      {1, 1, 1},
      {kMaxTimestamp, kMaxWorkerId, kMaxSequence},
      {kMaxTimestamp, 1, 0},
      {0, kMaxWorkerId, kMaxSequence},
      {(std::int64_t{1} << 40), 512, 2048},
      {84424331615, 999, 1},
  };
  for (const auto& p : cases) {
    const std::uint64_t id = encode(p);
    EXPECT_EQ(decode(id), p) << id;
    EXPECT_EQ(id, by_hand(static_cast<std::uint64_t>(p.timestamp_ms), p.worker_id, p.sequence));
  }
}

TEST(LayoutTest, LargestIdLeavesTheSignBitClear) {
  const std::uint64_t id = encode({kMaxTimestamp, kMaxWorkerId, kMaxSequence});
  EXPECT_EQ(id, (std::uint64_t{1} << 63) - 1);
  EXPECT_EQ(id >> 63, 0u);
}

TEST(LayoutTest, OutOfRangePartsAreMaskedNotBledIntoNeighbours) {
  // A sequence of 4096 must not carry into the worker id.
  EXPECT_EQ(encode({5, 3, kSequencePerMs}), by_hand(5, 3, 0));
  EXPECT_EQ(encode({5, 3, kSequencePerMs + 9}), by_hand(5, 3, 9));
  // A worker id of 1024 must not carry into the timestamp.
  EXPECT_EQ(encode({5, kMaxWorkerId + 1, 7}), by_hand(5, 0, 7));
  EXPECT_EQ(encode({5, kMaxWorkerId + 2, 7}), by_hand(5, 1, 7));
  // A timestamp past 41 bits must not reach bit 63.
  EXPECT_EQ(encode({kMaxTimestamp + 1, 3, 7}), by_hand(0, 3, 7));
  EXPECT_EQ(encode({kMaxTimestamp + 1, 3, 7}) >> 63, 0u);
}

TEST(LayoutTest, DecodeIgnoresBit63) {
  const std::uint64_t id = by_hand(77, 8, 9);
  EXPECT_EQ(decode(id | (std::uint64_t{1} << 63)), (IdParts{77, 8, 9}));
}

TEST(LayoutTest, EncodeOrdersByTimeThenWorkerThenSequence) {
  EXPECT_LT(encode({10, kMaxWorkerId, kMaxSequence}), encode({11, 1, 0}));
  EXPECT_LT(encode({10, 1, kMaxSequence}), encode({10, 2, 0}));
  EXPECT_LT(encode({10, 1, 0}), encode({10, 1, 1}));
}

// Vectors published by kayac/go-katsubushi (converter_test.go): ids it issued
// and what its Dump() reports for them.
TEST(LayoutTest, DecodesGoKatsubushiVectors) {
  struct Vector {
    std::uint64_t id;
    std::int64_t unix_ms;  // 2017-09-04T03:12:11.615Z and 2017-09-04T03:21:31.211Z
    std::uint32_t worker_id;
    std::uint32_t sequence;
  };
  const Vector vectors[] = {
      {354101311794212865u, 1504494731615, 999, 1},
      {354103658909954052u, 1504495291211, 999, 4},
      // ToID(time) has worker id 0 and sequence 0.
      {189608755200000000u, 1465276650000, 0, 0},
      {189608758458974208u, 1465276650777, 0, 0},
  };
  for (const auto& v : vectors) {
    const IdParts p = decode(v.id);
    EXPECT_EQ(p.timestamp_ms + kEpochUnixMs, v.unix_ms) << v.id;
    EXPECT_EQ(p.worker_id, v.worker_id) << v.id;
    EXPECT_EQ(p.sequence, v.sequence) << v.id;
    EXPECT_EQ(encode(p), v.id);
  }
}

TEST(LayoutTest, ValidWorkerIdRange) {
  EXPECT_FALSE(valid_worker_id(0));
  EXPECT_TRUE(valid_worker_id(1));
  EXPECT_TRUE(valid_worker_id(1023));
  EXPECT_FALSE(valid_worker_id(1024));
  EXPECT_FALSE(valid_worker_id(-1));
}

static_assert(decode(encode({3, 4, 5})) == IdParts{3, 4, 5}, "layout is usable at compile time");

}  // namespace
}  // namespace katsubushi::id
