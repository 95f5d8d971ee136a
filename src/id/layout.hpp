// The 64-bit ID layout shared with go-katsubushi:
//   bit 63: 0 | 41 bits ms since 2015-01-01T00:00:00Z | 10 bits worker id | 12 bits sequence
#pragma once

#include <cstdint>

namespace katsubushi::id {

inline constexpr int kWorkerIdBits = 10;
inline constexpr int kSequenceBits = 12;
inline constexpr int kTimestampBits = 41;

inline constexpr std::uint32_t kMaxWorkerId = (1u << kWorkerIdBits) - 1;     // 1023
inline constexpr std::uint32_t kSequencePerMs = 1u << kSequenceBits;         // 4096
inline constexpr std::uint32_t kMaxSequence = kSequencePerMs - 1;            // 4095
inline constexpr std::int64_t kMaxTimestamp = (std::int64_t{1} << kTimestampBits) - 1;

// 2015-01-01T00:00:00Z in milliseconds since the Unix epoch.
inline constexpr std::int64_t kEpochUnixMs = 1420070400000;

struct IdParts {
  std::int64_t timestamp_ms = 0;  // ms since kEpochUnixMs
  std::uint32_t worker_id = 0;
  std::uint32_t sequence = 0;

  friend bool operator==(const IdParts&, const IdParts&) = default;
};

// Callers keep each part inside its field; out-of-range bits are masked off
// rather than allowed to bleed into a neighbouring field.
constexpr std::uint64_t encode(const IdParts& p) noexcept {
  return (static_cast<std::uint64_t>(p.timestamp_ms & kMaxTimestamp)
          << (kWorkerIdBits + kSequenceBits)) |
         (static_cast<std::uint64_t>(p.worker_id & kMaxWorkerId) << kSequenceBits) |
         static_cast<std::uint64_t>(p.sequence & kMaxSequence);
}

constexpr IdParts decode(std::uint64_t id) noexcept {
  return IdParts{
      .timestamp_ms = static_cast<std::int64_t>((id >> (kWorkerIdBits + kSequenceBits)) &
                                                static_cast<std::uint64_t>(kMaxTimestamp)),
      .worker_id = static_cast<std::uint32_t>((id >> kSequenceBits) & kMaxWorkerId),
      .sequence = static_cast<std::uint32_t>(id & kMaxSequence),
  };
}

constexpr bool valid_worker_id(std::int64_t w) noexcept {
  return w >= 1 && w <= static_cast<std::int64_t>(kMaxWorkerId);
}

}  // namespace katsubushi::id
