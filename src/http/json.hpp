// The JSON bodies of the HTTP routes, byte for byte as go-katsubushi writes
// them, so its clients parse ours unchanged.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "service/stats.hpp"

namespace katsubushi::http {

// {"id":"<id>"}: the id as a string, no newline (go: fmt.Fprintf).
void append_id_json(std::string& out, std::uint64_t id);

// {"ids":["<id>",...]} and a newline (go: json.Encoder).
void append_ids_json(std::string& out, std::span<const std::uint64_t> ids);

// The stats as one object indented by two spaces, then a newline (go:
// json.Encoder with SetIndent("", "  ")): a value that is a JSON number is
// written as a number, any other as a string.
void append_stats_json(std::string& out, const service::StatList& stats);

// Whether `s` is a number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view s) noexcept;

}  // namespace katsubushi::http
