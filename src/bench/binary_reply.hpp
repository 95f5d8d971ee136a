// Replies of the memcached binary protocol, read incrementally from a
// client's receive buffer without allocating: 24-byte response headers
// (magic 0x81, big-endian fields) and their bodies. Like the text parser it
// keeps no state between calls and consumes whole packets only; the events
// go to the same kind of sink.
//
// A request of the load run is one `get` (K = 1), or K `getkq` and a `noop`
// (K > 1: what libmemcached's and Dalli's multi-gets send), so a reply ends
// at a packet of a non-quiet opcode. Quiet get packets carry values (or an
// error) inside a reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench/reply_parser.hpp"

namespace katsubushi::bench {

inline constexpr std::size_t kBinaryHeaderBytes = 24;
// Largest body taken as a reply (memcached's default item size): anything
// larger is a desync.
inline constexpr std::uint32_t kMaxBinaryBodyBytes = std::uint32_t{1} << 20;

// Sink: on_value(std::string_view) for each value, on_reply(ReplyEnd) when a
// request's reply ends, on_error(ReplyEnd) for a quiet get's error packet
// (an error that does not end the reply). A status other than 0 is an error
// (0x0004 client_error, 0x0081 error, others server_error), except 0x0001
// (key not found): a miss, as END without a VALUE is in text. When
// malformed, `bad_line` says what was wrong with the packet.
template <class Sink>
ParseResult parse_binary_replies(std::string_view in, Sink& sink);

namespace detail {

inline constexpr char kResponseMagic = '\x81';

// What one whole packet means for the load run.
struct BinaryPacket {
  std::string_view problem;  // non-empty: malformed
  std::uint32_t body_length = 0;
  std::size_t value_offset = 0;  // from the start of the packet
  bool has_value = false;        // a get's value, status 0
  bool ends_reply = false;
  bool is_error = false;
  ReplyEnd end = ReplyEnd::end;  // how the reply (or the quiet error) ends
};

// Reads the header in the first kBinaryHeaderBytes of `header` (a problem
// if shorter, unless the magic is already wrong).
BinaryPacket read_binary_header(std::string_view header) noexcept;

}  // namespace detail

template <class Sink>
ParseResult parse_binary_replies(std::string_view in, Sink& sink) {
  ParseResult result;
  std::size_t pos = 0;
  while (pos < in.size()) {
    // A first byte that is not 0x81 is a desync at once, whole header or not.
    const std::string_view header = in.substr(pos, kBinaryHeaderBytes);
    if (header.size() < kBinaryHeaderBytes && header.front() == detail::kResponseMagic) break;
    const detail::BinaryPacket p = detail::read_binary_header(header);
    if (!p.problem.empty()) {
      result.status = ParseStatus::malformed;
      result.bad_line = p.problem;
      break;
    }
    const std::size_t packet = kBinaryHeaderBytes + p.body_length;
    if (in.size() - pos < packet) break;
    if (p.has_value) sink.on_value(in.substr(pos + p.value_offset, packet - p.value_offset));
    if (p.ends_reply) {
      sink.on_reply(p.end);
    } else if (p.is_error) {
      sink.on_error(p.end);
    }
    pos += packet;
  }
  result.consumed = pos;
  return result;
}

}  // namespace katsubushi::bench
