// Issuing that waits: for tests, property tests, fuzzers and benchmarks,
// which want every id they ask for. The daemon never calls these: its
// sessions answer "not before" and the connection waits on a timer.
//
// The wait happens here, on the generator's clock (a ManualClock jumps to the
// awaited millisecond), between calls: never under the generator's lock.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

#include "id/generator.hpp"

namespace katsubushi::id {

// Fills all of `out`, or stops at the first error; `filled` counts the valid
// ids at the front of `out` either way.
inline IdGenerator::BatchResult issue_waiting(IdGenerator& generator,
                                              std::span<std::uint64_t> out) {
  IdGenerator::BatchResult total;
  while (total.filled < out.size()) {
    const auto r = generator.next_batch(out.subspan(total.filled));
    total.filled += r.filled;
    if (r.error) {
      total.error = r.error;
      break;
    }
    if (r.not_before_unix_ms != 0) generator.clock().sleep_until_unix_ms(r.not_before_unix_ms);
  }
  return total;
}

// One id, waiting as issue_waiting() does.
inline std::error_code next_waiting(IdGenerator& generator, std::uint64_t& out) {
  return issue_waiting(generator, std::span<std::uint64_t>(&out, 1)).error;
}

}  // namespace katsubushi::id
