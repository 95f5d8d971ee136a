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

// Every '%' in `target` starts a %XX escape (two hex digits). A target that
// fails this is refused whole (400): a malformed escape in the query would
// otherwise make its parameter silently absent (`n=%zz` read as no `n`).
bool escapes_well_formed(std::string_view target) noexcept;

// The first value of `key` in `query` ("a=1&b=%32" → b: "2"), '+' read as a
// space and %XX decoded; nullopt when the key is absent. Pairs with bad
// escapes are skipped (callers refuse such a target first: see above).
std::optional<std::string> query_value(std::string_view query, std::string_view key);

// `path` as Go's ServeMux cleans it before routing: "." and ".." segments
// resolved (RFC 3986 §5.2.4; ".." never climbs above the root), runs of '/'
// made one, a trailing '/' kept. "/x/../id" → "/id". The path as sent when it
// does not start with '/'.
std::string clean_path(std::string_view path);

}  // namespace katsubushi::http
