// HTTP/1.1 responses to GET /id and GET /ids?n=K, read incrementally from a
// client's receive buffer without allocating: a status line, header fields
// (Content-Length required, Connection: close noticed), and a body of
// decimal ids, one per line. Whole responses only are consumed; no state is
// kept between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench/reply_parser.hpp"

namespace katsubushi::bench {

// A status line and header fields longer than this are a desync (the
// daemon writes about 100 bytes).
inline constexpr std::size_t kMaxHttpHeadBytes = std::size_t{8} * 1024;
// Largest body taken (/ids?n=1000 is about 20 kB).
inline constexpr std::uint64_t kMaxHttpBodyBytes = std::uint64_t{1} << 20;

// Sink: on_value(std::string_view) for each line of a 200's body (none for
// an empty body), on_reply(ReplyEnd) at each response's end (200: end; 4xx:
// client_error; any other: server_error), and on_close() after a response
// with `Connection: close`: parsing stops there, the bytes after it are
// left unconsumed (the server sends nothing more on that connection). When
// malformed, `bad_line` is the offending line or says what was wrong.
template <class Sink>
ParseResult parse_http_replies(std::string_view in, Sink& sink);

namespace detail {

struct HttpHead {
  std::string_view problem;  // non-empty: malformed
  unsigned status = 0;
  std::uint64_t content_length = 0;
  bool close = false;
};

// The status line and header fields, each with its \r\n, without the empty
// line that ends them.
HttpHead read_http_head(std::string_view head) noexcept;

ReplyEnd end_of_status(unsigned status) noexcept;

}  // namespace detail

template <class Sink>
ParseResult parse_http_replies(std::string_view in, Sink& sink) {
  ParseResult result;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t blank = in.find("\r\n\r\n", pos);
    if (blank == std::string_view::npos) {
      if (in.size() - pos > kMaxHttpHeadBytes) {
        result.status = ParseStatus::malformed;
        result.bad_line = "a response head over 8 KiB";
      }
      break;
    }
    const detail::HttpHead head = detail::read_http_head(in.substr(pos, blank + 2 - pos));
    if (!head.problem.empty()) {
      result.status = ParseStatus::malformed;
      result.bad_line = head.problem;
      break;
    }
    const std::size_t body_at = blank + 4;
    if (in.size() - body_at < head.content_length) break;
    const auto length = static_cast<std::size_t>(head.content_length);
    if (head.status == 200) {
      std::string_view body = in.substr(body_at, length);
      while (!body.empty()) {
        const std::size_t nl = body.find('\n');
        sink.on_value(body.substr(0, nl));
        body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
      }
    }
    sink.on_reply(detail::end_of_status(head.status));
    pos = body_at + length;
    if (head.close) {
      sink.on_close();
      break;
    }
  }
  result.consumed = pos;
  return result;
}

}  // namespace katsubushi::bench
