// Memcached binary packets written out and read back by hand for tests and
// fuzzers, from the protocol's header layout rather than through the
// session's own parser and reply writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::testing {

inline constexpr std::uint8_t kRequestMagic = 0x80;
inline constexpr std::uint8_t kResponseMagic = 0x81;
// magic, opcode, key length (2), extras length, data type, status (2), body
// length (4), opaque (4), cas (8).
inline constexpr std::size_t kBinaryHeaderBytes = 24;

// `v` as `width` bytes, most significant first.
inline std::string big_endian(std::uint64_t v, std::size_t width) {
  std::string out(width, '\0');
  for (std::size_t i = width; i > 0; --i) {
    out[i - 1] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return out;
}

// The `width` bytes of `s` from `at`, most significant first.
inline std::uint64_t read_big_endian(std::string_view s, std::size_t at, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// A packet: the 24-byte header, then extras, key, value.
inline std::string binary_packet(std::uint8_t magic, std::uint8_t opcode, std::string_view key,
                                 std::string_view extras = {}, std::string_view value = {},
                                 std::uint16_t status = 0, std::uint32_t opaque = 0,
                                 std::uint64_t cas = 0) {
  std::string p;
  p += static_cast<char>(magic);
  p += static_cast<char>(opcode);
  p += big_endian(key.size(), 2);
  p += static_cast<char>(extras.size());
  p += '\0';  // data type
  p += big_endian(status, 2);
  p += big_endian(extras.size() + key.size() + value.size(), 4);
  p += big_endian(opaque, 4);
  p += big_endian(cas, 8);
  p.append(extras);
  p.append(key);
  p.append(value);
  return p;
}

// A request with a key and nothing else, as the get family, noop, version
// and quit are sent.
inline std::string binary_request(std::uint8_t opcode, std::string_view key = {},
                                  std::uint32_t opaque = 0) {
  return binary_packet(kRequestMagic, opcode, key, {}, {}, 0, opaque);
}

// A packet's fields, read back: the header's in its order, then the body's.
struct BinaryPacket {
  std::uint8_t magic{};
  std::uint8_t opcode{};
  std::uint16_t status{};
  std::uint32_t opaque{};
  std::uint64_t cas{};
  std::string extras;
  std::string key;
  std::string value;
};

// The body length a packet's header announces (`header` holds at least
// kBinaryHeaderBytes).
inline std::uint64_t binary_body_length(std::string_view header) {
  return read_big_endian(header, 8, 4);
}

// The first packet of `bytes`, or nullopt while it is not all there or when
// its key and extras overrun its body.
inline std::optional<BinaryPacket> read_binary_packet(std::string_view bytes) {
  if (bytes.size() < kBinaryHeaderBytes) return std::nullopt;
  const std::uint64_t body = binary_body_length(bytes);
  if (bytes.size() - kBinaryHeaderBytes < body) return std::nullopt;
  const std::uint64_t key_length = read_big_endian(bytes, 2, 2);
  const std::uint64_t extras_length = read_big_endian(bytes, 4, 1);
  if (key_length + extras_length > body) return std::nullopt;
  BinaryPacket p;
  p.magic = static_cast<std::uint8_t>(bytes[0]);
  p.opcode = static_cast<std::uint8_t>(bytes[1]);
  p.status = static_cast<std::uint16_t>(read_big_endian(bytes, 6, 2));
  p.opaque = static_cast<std::uint32_t>(read_big_endian(bytes, 12, 4));
  p.cas = read_big_endian(bytes, 16, 8);
  const std::string_view rest = bytes.substr(kBinaryHeaderBytes);
  p.extras = rest.substr(0, extras_length);
  p.key = rest.substr(extras_length, key_length);
  p.value = rest.substr(extras_length + key_length, body - extras_length - key_length);
  return p;
}

}  // namespace katsubushi::testing
