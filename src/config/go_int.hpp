// Integer flag values read as Go's flag package reads them (strconv with
// base 0), so go-katsubushi command lines and environments mean the same
// here: 010 is octal, 0x10, 0o17, 0b101, 1_000.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/limits.hpp"

namespace katsubushi::config {

enum class GoIntError { none, syntax, range };

struct GoUint {
  std::uint64_t value = 0;
  GoIntError error = GoIntError::none;
};

// strconv.ParseUint(s, 0, 64): no sign; base prefix 0b, 0o, 0x or a leading
// 0 (octal); underscores only where Go allows them.
GoUint parse_go_uint(std::string_view s) noexcept;

// How Go declares an integer flag: flag.Int reads an optional sign,
// flag.Uint (strconv.ParseUint) refuses one.
enum class Sign { allowed, refused };

// "512..16777216": a range as -help and the error messages write it.
std::string range_text(IntRange r);

// The value of integer flag -`flag`, within `range`. Throws ConfigError
// naming the flag, the range, and why (syntax, sign, out of range).
std::uint64_t parse_integer_flag(std::string_view flag, std::string_view v, IntRange range,
                                 Sign sign);

}  // namespace katsubushi::config
