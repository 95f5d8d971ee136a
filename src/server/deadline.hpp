// Time points a duration away, clamped to the clock's range.
//
// Durations come from flags, and Go accepts values up to 2562047h47m16s (the
// largest int64 of nanoseconds). `now + timeout` with such a value overflows
// and wraps into the past, so every deadline would already have expired.
// Deadlines are computed here, saturating, and nowhere else.
#pragma once

#include <chrono>
#include <type_traits>

namespace katsubushi::server {

// t + d, or the clock's largest (smallest) time point if the exact sum is past it.
template <typename TimePoint>
constexpr TimePoint saturating_add(TimePoint t, typename TimePoint::duration d) {
  using Duration = typename TimePoint::duration;
  static_assert(std::is_signed_v<typename Duration::rep>);
  typename Duration::rep sum{};
  if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &sum)) {
    return d.count() > 0 ? TimePoint::max() : TimePoint::min();
  }
  return TimePoint(Duration(sum));
}

// The moment `timeout` after `from`; a zero timeout means "never".
template <typename TimePoint>
constexpr TimePoint deadline_after(TimePoint from, typename TimePoint::duration timeout) {
  if (timeout == TimePoint::duration::zero()) return TimePoint::max();
  return saturating_add(from, timeout);
}

}  // namespace katsubushi::server
