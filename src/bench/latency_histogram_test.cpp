#include "bench/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

namespace katsubushi::bench {
namespace {

// The histogram is 17 KiB: on the heap, not the test's stack.
std::unique_ptr<LatencyHistogram> make() { return std::make_unique<LatencyHistogram>(); }

TEST(LatencyHistogramTest, BucketsTileTheRangeWithoutGapsOrOverlaps) {
  EXPECT_EQ(LatencyHistogram::bucket_low(0), 0U);
  for (std::size_t b = 1; b < LatencyHistogram::kBuckets; ++b) {
    ASSERT_EQ(LatencyHistogram::bucket_low(b), LatencyHistogram::bucket_high(b - 1) + 1) << b;
  }
  EXPECT_EQ(LatencyHistogram::bucket_high(LatencyHistogram::kBuckets - 1),
            LatencyHistogram::kMaxValue);
}

TEST(LatencyHistogramTest, EveryValueFallsInTheBucketThatCoversIt) {
  for (std::uint64_t v : {0ULL, 1ULL, 63ULL, 64ULL, 65ULL, 127ULL, 128ULL, 129ULL, 1000ULL,
                          12'345ULL, 999'999ULL, 1'000'000'007ULL, (1ULL << 39) + 12345ULL}) {
    const auto b = LatencyHistogram::bucket_of(v);
    EXPECT_LE(LatencyHistogram::bucket_low(b), v) << v;
    EXPECT_GE(LatencyHistogram::bucket_high(b), v) << v;
  }
}

TEST(LatencyHistogramTest, BucketWidthIsAtMostOneSixtyFourthOfItsValues) {
  for (std::size_t b = LatencyHistogram::kSubBuckets; b < LatencyHistogram::kBuckets; ++b) {
    const auto width = LatencyHistogram::bucket_high(b) - LatencyHistogram::bucket_low(b) + 1;
    ASSERT_LE(width * LatencyHistogram::kSubBuckets, LatencyHistogram::bucket_low(b)) << b;
  }
}

TEST(LatencyHistogramTest, HugeValuesLandInTheLastBucket) {
  EXPECT_EQ(LatencyHistogram::bucket_of(~std::uint64_t{0}), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::kMaxValue),
            LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  const auto h = make();
  EXPECT_EQ(h->count(), 0U);
  EXPECT_EQ(h->percentile(0.5), 0U);
  EXPECT_EQ(h->percentile(0.999), 0U);
  EXPECT_EQ(h->max(), 0U);
}

// The fairness row reports the worst wait exactly, not a bucket's midpoint.
TEST(LatencyHistogramTest, MaxIsTheLargestValueExactlyAndSurvivesAMerge) {
  const auto a = make();
  const auto b = make();
  for (std::uint64_t v : {500U, 25'000'123U, 70U}) a->record(v);
  EXPECT_EQ(a->max(), 25'000'123U);
  b->record(90'000'007);
  a->merge(*b);
  EXPECT_EQ(a->max(), 90'000'007U);
  b->merge(*make());
  EXPECT_EQ(b->max(), 90'000'007U);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  const auto h = make();
  for (std::uint64_t v = 1; v <= 50; ++v) h->record(v);
  EXPECT_EQ(h->count(), 50U);
  EXPECT_EQ(h->percentile(0.5), 25U);   // the 25th of 50
  EXPECT_EQ(h->percentile(0.99), 50U);  // ceil(49.5) = the 50th
  EXPECT_EQ(h->percentile(0.0), 1U);    // at least the first value
  EXPECT_EQ(h->percentile(1.0), 50U);
}

TEST(LatencyHistogramTest, PercentilesOfAUniformRunAreWithinTheBucketError) {
  const auto h = make();
  // 1 µs .. 1 ms in 1 µs steps: p50 near 500 µs, p99 near 990 µs, p999 near 999 µs.
  for (std::uint64_t us = 1; us <= 1000; ++us) h->record(us * 1000);
  const auto near = [](std::uint64_t got, std::uint64_t want) {
    const auto diff = got > want ? got - want : want - got;
    return diff * LatencyHistogram::kSubBuckets <= want;
  };
  EXPECT_TRUE(near(h->percentile(0.5), 500'000)) << h->percentile(0.5);
  EXPECT_TRUE(near(h->percentile(0.99), 990'000)) << h->percentile(0.99);
  EXPECT_TRUE(near(h->percentile(0.999), 999'000)) << h->percentile(0.999);
}

TEST(LatencyHistogramTest, OneSlowRequestInAThousandShowsAtP999NotAtP99) {
  const auto h = make();
  for (int i = 0; i < 999; ++i) h->record(20'000);
  h->record(5'000'000);
  EXPECT_LT(h->percentile(0.99), 21'000U);
  EXPECT_LT(h->percentile(0.999), 21'000U);  // the 999th of 1000 is still fast
  EXPECT_GT(h->percentile(1.0), 4'900'000U);
  h->record(5'000'000);  // now 2 of 1001: the 1000th is slow
  EXPECT_GT(h->percentile(0.999), 4'900'000U);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  const auto a = make();
  const auto b = make();
  for (int i = 0; i < 10; ++i) a->record(10);
  for (int i = 0; i < 30; ++i) b->record(1000);
  a->merge(*b);
  EXPECT_EQ(a->count(), 40U);
  EXPECT_EQ(a->percentile(0.25), 10U);
  EXPECT_GT(a->percentile(0.26), 990U);
}

}  // namespace
}  // namespace katsubushi::bench
