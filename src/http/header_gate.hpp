// Holds a request's header back from Beast until all of it has arrived.
//
// Beast's parser answers a header that arrives in pieces differently from
// the same header arriving whole: after its first look it only searches for
// the blank line, so a bad field, a bare LF or an oversized header gets a
// different error (or none) depending on where the bytes were cut. Given
// only whole headers it answers the same however they came. What Beast would
// otherwise catch early is checked here, byte by byte as the bytes arrive
// (the first bad byte decides, wherever the cuts are): the shape of the
// request line, and that every line ends in CRLF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace katsubushi::http {

class HeaderGate {
 public:
  enum class Verdict {
    need_more,         // no blank line yet, and room for one
    complete,          // the header ends within the bytes seen: give them to Beast
    bad_request_line,  // the first line is not `METHOD SP target SP HTTP/1.x CRLF`
    bare_lf,           // a header line ends in "\n" alone
    too_large,         // `limit` bytes and no blank line
  };

  // `pending` starts at the request's first byte and has at most grown since
  // the last call; only the new bytes are looked at.
  Verdict scan(std::string_view pending, std::size_t limit) noexcept;
  // For the next request.
  void reset() noexcept { *this = HeaderGate{}; }

 private:
  // Where in `METHOD SP target SP HTTP/1.x CR LF` the next byte falls.
  enum class Part : std::uint8_t { method, target, version, fields, done };
  bool request_line_byte(char c) noexcept;

  std::size_t scanned_ = 0;
  Part part_ = Part::method;
  std::size_t part_len_ = 0;
};

}  // namespace katsubushi::http
