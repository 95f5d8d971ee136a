// The memcached binary protocol's 24-byte packet header, and the reply
// packets this daemon writes. All multi-byte fields are big-endian.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "service/buffers.hpp"

namespace katsubushi::proto::binary {

inline constexpr std::size_t kHeaderBytes = 24;
inline constexpr std::uint8_t kRequestMagic = 0x80;
inline constexpr std::uint8_t kResponseMagic = 0x81;

enum class Opcode : std::uint8_t {
  get = 0x00,
  quit = 0x07,
  getq = 0x09,
  noop = 0x0A,
  version = 0x0B,
  getk = 0x0C,
  getkq = 0x0D,
  stat = 0x10,
  quitq = 0x17,
};

enum class Status : std::uint16_t {
  ok = 0x0000,
  key_not_found = 0x0001,
  invalid_arguments = 0x0004,
  unknown_command = 0x0081,
  internal_error = 0x0084,
};

struct Header {
  std::uint8_t magic = 0;
  std::uint8_t opcode = 0;
  std::uint16_t key_length = 0;
  std::uint8_t extras_length = 0;
  std::uint8_t data_type = 0;
  std::uint16_t vbucket_or_status = 0;
  std::uint32_t body_length = 0;
  std::uint32_t opaque = 0;
  std::uint64_t cas = 0;
};

// Reads a header from the first kHeaderBytes of `bytes`; nullopt if shorter.
std::optional<Header> parse_header(std::string_view bytes) noexcept;

// One response packet: header, extras, key, value. Made for a request, whose
// opcode and opaque it echoes.
struct Reply {
  explicit Reply(const Header& request) : opcode(request.opcode), opaque(request.opaque) {}
  Reply(const Header& request, Status s, std::string_view message) : Reply(request) {
    status = s;
    value = message;
  }

  std::uint8_t opcode = 0;
  Status status = Status::ok;
  std::uint32_t opaque = 0;
  std::uint64_t cas = 0;
  std::string_view extras;
  std::string_view key;
  std::string_view value;
};
void append_reply(service::OutputBuffer& out, const Reply& reply);

}  // namespace katsubushi::proto::binary
