#include "id/clock.hpp"

#include <time.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "id/layout.hpp"
#include "id/timefmt.hpp"

namespace katsubushi::id {

namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

// Far enough for any wait, near enough that a steady time point cannot overflow.
constexpr std::int64_t kMaxWaitUs = std::int64_t{1'000'000} * 86'400 * 365;

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  if (b > 0 && a > kInt64Max - b) return kInt64Max;
  if (b < 0 && a < kInt64Min - b) return kInt64Min;
  return a + b;
}

std::int64_t saturating_sub(std::int64_t a, std::int64_t b) noexcept {
  if (b < 0 && a > kInt64Max + b) return kInt64Max;
  if (b > 0 && a < kInt64Min + b) return kInt64Min;
  return a - b;
}

// scale * seconds + sub, saturating at the int64 ends.
std::int64_t scaled(std::int64_t seconds, std::int64_t scale, std::int64_t sub) noexcept {
  if (seconds > kInt64Max / scale) return kInt64Max;
  if (seconds < kInt64Min / scale) return kInt64Min;
  return saturating_add(seconds * scale, sub);
}

// Microseconds since the Unix epoch. Not through system_clock: its int64
// nanoseconds overflow in 2262 and would read as a time before the epoch.
std::int64_t wall_unix_us() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return scaled(static_cast<std::int64_t>(ts.tv_sec), 1'000'000, ts.tv_nsec / 1000);
}

}  // namespace

std::optional<std::string> outside_id_time_range(std::int64_t unix_ms) {
  const std::int64_t first = kEpochUnixMs;
  const std::int64_t last = kEpochUnixMs + kMaxTimestamp;
  if (unix_ms < first) {
    return "the clock reads " + format_rfc3339_ms(unix_ms) + "; ids can only be made from " +
           format_rfc3339_ms(first) + " on: every get will answer SERVER_ERROR until then";
  }
  if (unix_ms > last) {
    return "the clock reads " + format_rfc3339_ms(unix_ms) + "; ids can only be made up to " +
           format_rfc3339_ms(last) + ": every get will answer SERVER_ERROR";
  }
  return std::nullopt;
}

SystemClock::SystemClock()
    : anchor_steady_(std::chrono::steady_clock::now()), anchor_unix_us_(wall_unix_us()) {}

std::int64_t SystemClock::now_unix_ms() {
  using namespace std::chrono;
  const auto elapsed_us = duration_cast<microseconds>(steady_clock::now() - anchor_steady_).count();
  return saturating_add(anchor_unix_us_, elapsed_us) / 1000;
}

std::chrono::steady_clock::time_point SystemClock::steady_at_unix_ms(std::int64_t target) {
  using namespace std::chrono;
  // Callers wait a millisecond or so; clamping keeps the steady time point
  // from overflowing whatever the target.
  const std::int64_t since_anchor_us =
      std::clamp(saturating_sub(scaled(target, 1000, 0), anchor_unix_us_), -kMaxWaitUs, kMaxWaitUs);
  return anchor_steady_ + microseconds(since_anchor_us);
}

void SystemClock::sleep_until_unix_ms(std::int64_t target) {
  const auto target_steady = steady_at_unix_ms(target);
  while (std::chrono::steady_clock::now() < target_steady) {
    std::this_thread::sleep_until(target_steady);
  }
}

std::int64_t SystemClock::drift_ms() {
  return saturating_sub(wall_unix_us() / 1000, now_unix_ms());
}

}  // namespace katsubushi::id
