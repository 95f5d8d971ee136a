// Hands out strictly increasing, never repeating IDs for one worker id.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <system_error>

#include "id/clock.hpp"
#include "id/layout.hpp"

namespace katsubushi::id {

enum class GeneratorErrc {
  clock_behind = 1,     // clock is further behind the last issued id than we may wait
  before_epoch,         // clock reads a time before 2015-01-01
  timestamp_overflow,   // clock is past what 41 bits of milliseconds can hold
};

const std::error_category& generator_category() noexcept;
std::error_code make_error_code(GeneratorErrc e) noexcept;

struct GeneratorOptions {
  // How far behind the last issued millisecond the clock may be before the
  // generator refuses instead of waiting for it to catch up.
  std::int64_t max_backward_wait_ms = 1000;
};

struct GeneratorCounters {
  std::uint64_t ids_issued = 0;
  std::uint64_t sequence_waits = 0;  // a millisecond's 4096 ids were used up
  std::uint64_t clock_waits = 0;     // the clock was behind the last issued ms
  std::uint64_t errors = 0;
};

class IdGenerator {
 public:
  IdGenerator(Clock& clock, std::uint32_t worker_id, GeneratorOptions options = {});

  IdGenerator(const IdGenerator&) = delete;
  IdGenerator& operator=(const IdGenerator&) = delete;

  // One id, or an error and no id.
  std::error_code next(std::uint64_t& out);

  // Fills `out` with consecutive ids under one lock. On error, the first
  // `filled` entries are valid ids (issued, never to be repeated) and the
  // rest are untouched.
  struct BatchResult {
    std::error_code error;
    std::size_t filled = 0;
  };
  BatchResult next_batch(std::span<std::uint64_t> out);

  // Whether next() would give an id now, and if not why, without issuing one
  // or waiting: what health checks ask. A used-up millisecond or a clock a
  // little behind counts as available (next() waits those out). Takes the
  // lock only to read two fields.
  std::error_code check_available() const;

  std::uint32_t worker_id() const noexcept { return worker_id_; }
  Clock& clock() noexcept { return clock_; }
  GeneratorCounters counters() const noexcept;

  // The last issued timestamp in ms since the layout epoch, -1 before the first.
  std::int64_t last_timestamp_ms() const;

 private:
  Clock& clock_;
  const std::uint32_t worker_id_;
  const GeneratorOptions options_;

  mutable std::mutex mu_;
  std::int64_t last_ts_ = -1;      // guarded by mu_
  std::uint32_t sequence_ = 0;     // guarded by mu_: last sequence used at last_ts_

  std::atomic<std::uint64_t> ids_issued_{0};
  std::atomic<std::uint64_t> sequence_waits_{0};
  std::atomic<std::uint64_t> clock_waits_{0};
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace katsubushi::id

template <>
struct std::is_error_code_enum<katsubushi::id::GeneratorErrc> : std::true_type {};
