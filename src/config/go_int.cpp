#include "config/go_int.hpp"

#include <limits>

#include "config/config.hpp"

namespace katsubushi::config {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

unsigned digit_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  c = lower(c);
  if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a') + 10;
  return 36;
}

// Underscores only between digits, or between a base prefix and a digit
// (Go's strconv.underscoreOK; `s` carries no sign).
bool underscores_ok(std::string_view s) {
  char saw = '^';  // ^ start, 0 digit or prefix, _ underscore, ! anything else
  std::size_t i = 0;
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if ((c >= '0' && c <= '9') || (hex && lower(c) >= 'a' && lower(c) <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

[[noreturn]] void throw_bad_integer(std::string_view flag, std::string_view v, IntRange range,
                                    Sign sign, std::string_view why = {}) {
  std::string msg = "invalid value \"" + std::string(v) + "\" for flag -" + std::string(flag) +
                    ": " + std::string(why) + "want an " +
                    (sign == Sign::refused ? "unsigned " : "") + "integer in " + range_text(range);
  throw ConfigError(msg);
}

}  // namespace

GoUint parse_go_uint(std::string_view s) noexcept {
  if (s.empty()) return {0, GoIntError::syntax};
  const std::string_view whole = s;
  std::uint64_t base = 10;
  if (s[0] == '0') {
    const char prefix = s.size() >= 3 ? lower(s[1]) : '\0';
    if (prefix == 'b' || prefix == 'o' || prefix == 'x') {
      base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : 16;
      s.remove_prefix(2);
    } else {
      base = 8;  // a leading 0 alone means octal and is itself a digit
      s.remove_prefix(1);
    }
  }
  bool underscores = false;
  bool overflow = false;
  std::uint64_t n = 0;
  for (const char c : s) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    const std::uint64_t d = digit_value(c);
    if (d >= base) return {0, GoIntError::syntax};
    if (n > (std::numeric_limits<std::uint64_t>::max() - d) / base) {
      overflow = true;
    } else {
      n = n * base + d;
    }
  }
  if (underscores && !underscores_ok(whole)) return {0, GoIntError::syntax};
  if (overflow) return {0, GoIntError::range};
  return {n, GoIntError::none};
}

std::string range_text(IntRange r) { return std::to_string(r.min) + ".." + std::to_string(r.max); }

std::uint64_t parse_integer_flag(std::string_view flag, std::string_view v, IntRange range,
                                 Sign sign) {
  constexpr std::string_view kOutOfRange = "out of range; ";
  std::string_view digits = v;
  const bool has_sign = !digits.empty() && (digits[0] == '+' || digits[0] == '-');
  const bool negative = has_sign && digits[0] == '-';
  if (has_sign) digits.remove_prefix(1);
  const GoUint n = parse_go_uint(digits);
  if (n.error == GoIntError::syntax) throw_bad_integer(flag, v, range, sign);
  // Every range starts at 0 or above, so any negative number is out of it;
  // on a uint flag that is clearer than Go's "invalid syntax".
  if (negative && (n.value != 0 || n.error == GoIntError::range)) {
    throw_bad_integer(flag, v, range, sign, kOutOfRange);
  }
  if (has_sign && sign == Sign::refused) {
    throw_bad_integer(flag, v, range, sign, "a uint flag takes no sign; ");
  }
  if (n.error == GoIntError::range || n.value < range.min || n.value > range.max) {
    throw_bad_integer(flag, v, range, sign, kOutOfRange);
  }
  return n.value;
}

}  // namespace katsubushi::config
