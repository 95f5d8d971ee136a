// The parts of a request target the routes look at: the path, and query
// parameters decoded as Go's url.ParseQuery decodes them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::http {

// "/ids?n=5" → "/ids"; the absolute form "http://host:port/ids?n=5" too.
// Anything else (`*`, an authority) is returned as it is, and found nowhere.
std::string_view target_path(std::string_view target) noexcept;

// "n=5&x=1" for the targets above; empty when there is no '?'.
std::string_view target_query(std::string_view target) noexcept;

// The first value of `key` in `query` ("a=1&b=%32" → b: "2"), '+' read as a
// space and %XX decoded; nullopt when the key is absent. Pairs with bad
// escapes are skipped, as Go's url.ParseQuery skips them.
std::optional<std::string> query_value(std::string_view query, std::string_view key);

}  // namespace katsubushi::http
