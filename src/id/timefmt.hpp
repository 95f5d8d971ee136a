// RFC 3339 with milliseconds, for katsubushi-dump and logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::id {

// "2015-01-01T00:00:00.000Z"
std::string format_rfc3339_ms(std::int64_t unix_ms);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" (a space or lower-case
// 't'/'z' too). Fractions beyond milliseconds are truncated.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) noexcept;

}  // namespace katsubushi::id
