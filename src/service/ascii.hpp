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

// The decimal digits of a uint64, on the stack: ids go out as text in every
// protocol, many times per reply, so this is on the hot path.
class DecimalDigits {
 public:
  explicit DecimalDigits(std::uint64_t v) noexcept {
    const auto [end, ec] = std::to_chars(digits_, digits_ + kMaxUint64Digits, v);
    (void)ec;  // kMaxUint64Digits bytes hold any uint64
    size_ = static_cast<std::size_t>(end - digits_);
  }
  std::string_view view() const noexcept { return {digits_, size_}; }
  std::size_t size() const noexcept { return size_; }

 private:
  char digits_[kMaxUint64Digits];
  std::size_t size_;
};

}  // namespace katsubushi::service
