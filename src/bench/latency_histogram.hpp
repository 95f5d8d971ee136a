// Latencies of a load run, in nanoseconds, kept as counts in log-linear
// buckets: recording is an index and an increment (no allocation on the data
// path), histograms of several connections merge by addition, and a
// percentile is within 1/64 (1.6 %) of the exact one.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace katsubushi::bench {

class LatencyHistogram {
 public:
  // Each power of two is split into 2^kSubBucketBits buckets.
  static constexpr unsigned kSubBucketBits = 6;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
  // Values above 2^kMaxBits ns (about 18 minutes) are counted as that.
  static constexpr unsigned kMaxBits = 40;
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << kMaxBits) - 1;
  static constexpr std::size_t kBuckets =
      static_cast<std::size_t>(kSubBuckets * (kMaxBits - kSubBucketBits + 1));

  void record(std::uint64_t ns) noexcept {
    ++counts_[bucket_of(ns)];
    ++count_;
    max_ = std::max(max_, ns);
  }
  void merge(const LatencyHistogram& other) noexcept;

  std::uint64_t count() const noexcept { return count_; }
  // The largest value recorded, exactly (not a bucket's midpoint); 0 when
  // nothing was.
  std::uint64_t max() const noexcept { return max_; }

  // The value below which a fraction q (0..1) of the recorded values lie:
  // the midpoint of the bucket holding the ceil(q × count)-th smallest value.
  // 0 when nothing was recorded.
  std::uint64_t percentile(double q) const noexcept;

  // Bucket arithmetic, public for the tests.
  static std::size_t bucket_of(std::uint64_t ns) noexcept;
  static std::uint64_t bucket_low(std::size_t bucket) noexcept;
  static std::uint64_t bucket_high(std::size_t bucket) noexcept;  // inclusive

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace katsubushi::bench
