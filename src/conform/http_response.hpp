// HTTP/1.1 replies for conformance cases: framing one response off a byte
// stream (Content-Length, chunked, or up to the close) and the checks a case
// makes on it (`expect-http 200`, then `header`, `body`, `body-json`,
// `body-has`, `json-keys` lines).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conform/pattern.hpp"

namespace katsubushi::conform {

// Bounds on what the runner reads of one response.
inline constexpr std::size_t kMaxHttpHeaderBytes = std::size_t{64} * 1024;
inline constexpr std::size_t kMaxHttpBodyBytes = std::size_t{1024} * 1024;

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header of that name (names are case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

enum class HttpFrame {
  complete,   // `out` holds a response of `used` bytes
  need_more,  // more bytes could complete it
  need_eof,   // the body runs to the close: call again with at_eof once closed
  malformed,  // not an HTTP/1.x response, or over a bound
};

// Frames the first response of `input`. `at_eof`: the peer has closed, so a
// body without a length ends here.
HttpFrame frame_http_response(std::string_view input, bool at_eof, HttpResponse& out,
                              std::size_t& used, std::string& error);

struct HttpCheck {
  enum class Kind {
    header,     // header NAME: PATTERN (the value, matched whole)
    body,       // body PATTERN (the whole body)
    body_json,  // body-json PATTERN (the body parsed as JSON and written compactly)
    body_has,   // body-has TEXT (the body contains TEXT)
    json_keys,  // json-keys K1 K2 ... (a JSON object with these keys, in this order)
  };
  Kind kind = Kind::body;
  std::string name;               // header
  Pattern pattern;                // header, body, body_json
  std::string text;               // body_has
  std::vector<std::string> keys;  // json_keys
};

struct HttpExpectation {
  int status = 0;  // 0: any
  std::vector<HttpCheck> checks;
};

// Checks a response; the ids of matched patterns are appended to `ids`.
bool check_http(const HttpExpectation& want, const HttpResponse& got,
                std::vector<std::uint64_t>& ids, std::string& error);

// The body as compact JSON (no whitespace between tokens, members in their
// order), or false if it does not parse.
bool compact_json(std::string_view body, std::string& out, std::string& error);

}  // namespace katsubushi::conform
