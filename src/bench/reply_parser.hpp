// Replies of the memcached text protocol, read incrementally from a client's
// receive buffer without allocating: `VALUE <key> <flags> <len>[ <cas>]`,
// its data block, and the line that ends a reply (END, STORED, ERROR,
// CLIENT_ERROR ..., SERVER_ERROR ...). The parser never copies: it reports
// each value as a view into the buffer and says how many bytes it used; the
// caller keeps the rest for the next read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace katsubushi::bench {

// How a reply ended.
enum class ReplyEnd {
  end,           // END: a get's reply, after its values
  stored,        // STORED: a set's reply
  error,         // ERROR
  client_error,  // CLIENT_ERROR <message>
  server_error,  // SERVER_ERROR <message>
};

constexpr bool is_error(ReplyEnd e) noexcept {
  return e == ReplyEnd::error || e == ReplyEnd::client_error || e == ReplyEnd::server_error;
}

enum class ParseStatus {
  ok,         // everything complete was consumed; the rest needs more bytes
  malformed,  // a line no reply starts with, or a data block not ended by \r\n
};

struct ParseResult {
  std::size_t consumed = 0;
  ParseStatus status = ParseStatus::ok;
  std::string_view bad_line;  // the offending line when malformed (a view into the input)
};

// Sink: on_value(std::string_view data) for each value, on_reply(ReplyEnd)
// when a reply ends. Values and the end of their reply may arrive in
// different calls: the parser keeps no state between calls but the bytes
// the caller did not let it consume, so a VALUE line and its data block are
// consumed together.
template <class Sink>
ParseResult parse_replies(std::string_view in, Sink& sink);

namespace detail {

enum class LineKind { value, end, malformed };

struct Line {
  LineKind kind = LineKind::malformed;
  ReplyEnd reply_end = ReplyEnd::end;
  std::size_t data_length = 0;  // for a VALUE line
};

// One line without its \r\n.
Line classify_line(std::string_view line) noexcept;

}  // namespace detail

template <class Sink>
ParseResult parse_replies(std::string_view in, Sink& sink) {
  ParseResult result;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) break;
    if (nl == pos || in[nl - 1] != '\r') {
      result.status = ParseStatus::malformed;
      result.bad_line = in.substr(pos, nl - pos);
      break;
    }
    const std::string_view text = in.substr(pos, nl - 1 - pos);
    const detail::Line line = detail::classify_line(text);
    if (line.kind == detail::LineKind::malformed) {
      result.status = ParseStatus::malformed;
      result.bad_line = text;
      break;
    }
    if (line.kind == detail::LineKind::end) {
      sink.on_reply(line.reply_end);
      pos = nl + 1;
      continue;
    }
    // A VALUE line is consumed only with its whole data block and \r\n.
    const std::size_t data = nl + 1;
    if (in.size() - data < line.data_length + 2) break;
    if (in[data + line.data_length] != '\r' || in[data + line.data_length + 1] != '\n') {
      result.status = ParseStatus::malformed;
      result.bad_line = text;
      break;
    }
    sink.on_value(in.substr(data, line.data_length));
    pos = data + line.data_length + 2;
  }
  result.consumed = pos;
  return result;
}

}  // namespace katsubushi::bench
