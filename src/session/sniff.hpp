// The first bytes of a connection choose its protocol for the rest of its
// life: 0x80 is memcached binary, a first line shaped like an HTTP request
// line is HTTP/1.x, anything else memcached text (meta commands included).
#pragma once

#include <cstddef>
#include <string_view>

namespace katsubushi::session {

enum class Protocol { undecided, text, binary, http };

// What `pending` (the connection's first bytes) says. undecided until a whole
// first line has arrived, or the line is too long to be anything but text.
Protocol sniff_protocol(std::string_view pending, std::size_t max_line_bytes) noexcept;

// `METHOD SP target SP HTTP/1.x` (with or without its "\r"): what curl or a
// browser sends first.
bool looks_like_http_request_line(std::string_view line) noexcept;

}  // namespace katsubushi::session
