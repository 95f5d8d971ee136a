#include "bench/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace katsubushi::bench {

// Values below kSubBuckets have a bucket each. Above, a value whose highest
// set bit is b keeps its top kSubBucketBits + 1 bits: bucket
// kSubBuckets × (b − kSubBucketBits + 1) + (the bits after the top one).
std::size_t LatencyHistogram::bucket_of(std::uint64_t ns) noexcept {
  const std::uint64_t v = std::min(ns, kMaxValue);
  if (v < kSubBuckets) return static_cast<std::size_t>(v);
  const auto shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBucketBits;
  const std::uint64_t sub = (v >> shift) - kSubBuckets;
  return static_cast<std::size_t>(kSubBuckets * (shift + 1) + sub);
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t bucket) noexcept {
  const std::uint64_t b = bucket;
  if (b < kSubBuckets) return b;
  const std::uint64_t shift = b / kSubBuckets - 1;
  return (kSubBuckets + b % kSubBuckets) << shift;
}

std::uint64_t LatencyHistogram::bucket_high(std::size_t bucket) noexcept {
  const std::uint64_t b = bucket;
  if (b < kSubBuckets) return b;
  const std::uint64_t shift = b / kSubBuckets - 1;
  return bucket_low(bucket) + (std::uint64_t{1} << shift) - 1;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(q, 0.0, 1.0);
  const auto wanted = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(clamped * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= wanted) return bucket_low(i) + (bucket_high(i) - bucket_low(i)) / 2;
  }
  return bucket_high(kBuckets - 1);
}

}  // namespace katsubushi::bench
