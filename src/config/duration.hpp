// Go-style durations ("600s", "10m", "1h30m", "1.5s", "500ms") and, for
// convenience, plain numbers of seconds ("600").
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace katsubushi::config {

// nullopt for anything malformed, negative or beyond ~292 years.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) noexcept;

// The shortest Go-style spelling, for help and `stats settings`: "10m0s" is
// written "600s" here; whole seconds as "Ns", else milliseconds "Nms", else
// microseconds "Nus", else "Nns".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace katsubushi::config
