#include "config/duration.hpp"

#include <cstdint>
#include <limits>
#include <string>

namespace katsubushi::config {

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::optional<std::int64_t> unit_nanos(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xc2\xb5s" || u == "\xce\xbcs") return 1'000;
  if (u == "ms") return 1'000'000;
  if (u == "s") return 1'000'000'000;
  if (u == "m") return 60'000'000'000;
  if (u == "h") return 3'600'000'000'000;
  return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  if (s == "0") return std::chrono::nanoseconds(0);

  // Plain seconds: digits only.
  bool all_digits = true;
  for (char c : s) all_digits = all_digits && is_digit(c);

  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    // Whole part and optional fraction.
    std::int64_t whole = 0;
    std::int64_t frac = 0;
    std::int64_t frac_scale = 1;
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) {
      if (whole > (kMax - (s[i] - '0')) / 10) return std::nullopt;
      whole = whole * 10 + (s[i] - '0');
      ++i;
    }
    bool had_digits = i > start;
    if (i < s.size() && s[i] == '.') {
      ++i;
      const std::size_t fstart = i;
      while (i < s.size() && is_digit(s[i])) {
        // Past 18 digits the extra precision is below a nanosecond: drop it.
        if (frac_scale <= 100'000'000'000'000'000 / 10) {
          frac = frac * 10 + (s[i] - '0');
          frac_scale *= 10;
        }
        ++i;
      }
      had_digits = had_digits || i > fstart;
    }
    if (!had_digits) return std::nullopt;

    std::int64_t unit = 0;
    if (all_digits) {
      unit = 1'000'000'000;
    } else {
      const std::size_t ustart = i;
      while (i < s.size() && !is_digit(s[i]) && s[i] != '.') ++i;
      const auto u = unit_nanos(s.substr(ustart, i - ustart));
      if (!u) return std::nullopt;
      unit = *u;
    }
    if (whole > kMax / unit) return std::nullopt;
    std::int64_t part = whole * unit;
    // frac / frac_scale of a unit, computed without overflow.
    const long double extra = static_cast<long double>(frac) * static_cast<long double>(unit) /
                              static_cast<long double>(frac_scale);
    const auto extra_ns = static_cast<std::int64_t>(extra);
    if (part > kMax - extra_ns) return std::nullopt;
    part += extra_ns;
    if (total > kMax - part) return std::nullopt;
    total += part;
  }
  return std::chrono::nanoseconds(total);
}

std::string format_duration(std::chrono::nanoseconds d) {
  const auto ns = d.count();
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

}  // namespace katsubushi::config
