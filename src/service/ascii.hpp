// ASCII text pieces every front end writes or reads the same way: case-blind
// comparison of names (memcached commands and stats groups, HTTP tokens) and
// the decimal form of an id. Self-contained, so it can sit below them all.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace katsubushi::service {

// `c` with an ASCII capital made small; every other byte as it is (so the
// "C" locale's std::tolower, without the locale).
constexpr char to_lower_ascii(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `a` equals `b` ignoring the case of ASCII letters.
constexpr bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower_ascii(a[i]) != to_lower_ascii(b[i])) return false;
  }
  return true;
}

// The most digits a uint64 has in decimal (18446744073709551615).
inline constexpr std::size_t kMaxUint64Digits = 20;

// Writes the decimal digits of `v` at `out`; returns how many.
inline std::size_t write_decimal(char (&out)[kMaxUint64Digits], std::uint64_t v) noexcept {
  const auto [end, ec] = std::to_chars(out, out + kMaxUint64Digits, v);
  (void)ec;  // kMaxUint64Digits bytes hold any uint64
  return static_cast<std::size_t>(end - out);
}

// The decimal digits of a uint64, on the stack: ids go out as text in every
// protocol, many times per reply, so this is on the hot path.
class DecimalDigits {
 public:
  explicit DecimalDigits(std::uint64_t v) noexcept : size_(write_decimal(digits_, v)) {}
  std::string_view view() const noexcept { return {digits_, size_}; }
  std::size_t size() const noexcept { return size_; }

 private:
  char digits_[kMaxUint64Digits];
  std::size_t size_;
};

// The decimal digits of a run of numbers, most of them one more than the
// one before (a reply's ids within a millisecond): a number one more than
// the last is stepped in place, a digit or two, instead of divided out
// digit by digit again. Any other number is formatted afresh.
class DecimalRun {
 public:
  std::string_view next(std::uint64_t v) noexcept {
    if (size_ != 0 && v > last_ && v - last_ == 1 && step()) {
      last_ = v;
      return {digits_, size_};
    }
    size_ = write_decimal(digits_, v);
    last_ = v;
    return {digits_, size_};
  }

 private:
  // Adds one to the digits in place; false when that needs one more digit.
  bool step() noexcept {
    for (std::size_t i = size_; i-- > 0;) {
      if (digits_[i] != '9') {
        ++digits_[i];
        return true;
      }
      digits_[i] = '0';
    }
    return false;  // all nines: the caller formats afresh
  }

  char digits_[kMaxUint64Digits];
  std::size_t size_ = 0;
  std::uint64_t last_ = 0;
};

}  // namespace katsubushi::service
