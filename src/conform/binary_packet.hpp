// memcached binary protocol packets as conformance cases write them: a
// request built from fields (`send-bin op=00 key=a opaque=deadbeef`), and the
// expected reply as fields to check (`expect-bin op=00 status=0000 cas={cas}
// value={id}`), so a case says what it means rather than 24 bytes of hex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conform/pattern.hpp"

namespace katsubushi::conform {

inline constexpr std::size_t kHeaderBytes = 24;
inline constexpr std::uint8_t kRequestMagic = 0x80;
inline constexpr std::uint8_t kResponseMagic = 0x81;
// The largest reply body the runner reads; a bigger one is a FAIL, not an
// allocation the server chooses.
inline constexpr std::uint32_t kMaxReplyBodyBytes = 1024 * 1024;

struct PacketHeader {
  std::uint8_t magic = 0;
  std::uint8_t opcode = 0;
  std::uint16_t keylen = 0;
  std::uint8_t extlen = 0;
  std::uint8_t datatype = 0;
  std::uint16_t status = 0;  // vbucket in a request
  std::uint32_t bodylen = 0;
  std::uint32_t opaque = 0;
  std::uint64_t cas = 0;
};

PacketHeader decode_header(std::string_view bytes);  // the first 24 bytes
std::string encode_header(const PacketHeader& header);

// `send-bin`: lengths follow the parts unless a field overrides them (that is
// how cases build malformed requests).
struct RequestSpec {
  PacketHeader header{kRequestMagic};
  std::string extras;
  std::string key;
  std::string value;
  std::optional<std::uint16_t> keylen;
  std::optional<std::uint8_t> extlen;
  std::optional<std::uint32_t> bodylen;
};

std::string encode_request(const RequestSpec& spec);

// Fields: magic= op= datatype= vbucket= opaque= cas= (hex), extras= (hex),
// key= (escaped text, no spaces), keylen= extlen= bodylen= (decimal or 0x..),
// value= (escaped text, the rest of the line).
bool parse_request_fields(std::string_view text, RequestSpec& out, std::string& error);

struct Packet {
  PacketHeader header;
  std::string extras;
  std::string key;
  std::string value;
};

enum class FrameStatus { packet, need_more, malformed };

// Splits the first whole reply packet off `input` (`used` bytes).
FrameStatus frame_packet(std::string_view input, Packet& out, std::size_t& used,
                         std::string& error);

// What `expect-bin` checks. A field left out is not checked, except the
// magic (0x81).
struct PacketExpectation {
  enum class Cas { unchecked, exact, id };  // id: {cas}, the id in the value
  std::uint8_t magic = kResponseMagic;
  std::optional<std::uint8_t> opcode;
  std::optional<std::uint8_t> datatype;
  std::optional<std::uint16_t> status;
  std::optional<std::uint32_t> opaque;
  Cas cas_check = Cas::unchecked;
  std::uint64_t cas = 0;
  std::optional<std::string> extras;
  std::optional<std::string> key;
  std::optional<Pattern> value;  // matched against the whole value
};

// Fields: magic= op= datatype= status= opaque= (hex), cas= (hex or {cas}),
// extras= (hex), key= (escaped text), value= (a pattern, the rest of the line).
bool parse_packet_fields(std::string_view text, PacketExpectation& out, std::string& error);

// Checks one packet; the ids in its value are appended to `ids`.
bool check_packet(const PacketExpectation& want, const Packet& got, std::vector<std::uint64_t>& ids,
                  std::string& error);

// `expect-bin-stats`: Stat replies up to the empty terminator, each with
// opcode 0x10, status 0 and a key; `first` names the keys the run must
// begin with, in order.
struct StatsExpectation {
  std::optional<std::uint32_t> opaque;
  std::vector<std::string> first;
};

// Fields: opaque= (hex), first=name,name,...
bool parse_stats_fields(std::string_view text, StatsExpectation& out, std::string& error);

// A packet as a line for messages.
std::string describe_packet(const Packet& packet);

}  // namespace katsubushi::conform
