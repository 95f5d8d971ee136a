#include "proto/binary_packet.hpp"

namespace katsubushi::proto::binary {

namespace {

std::uint64_t read_be(std::string_view bytes, std::size_t at, std::size_t width) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return v;
}

void append_be(service::OutputBuffer& out, std::uint64_t v, std::size_t width) {
  char bytes[8];
  for (std::size_t i = 0; i < width; ++i) {
    bytes[width - 1 - i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  out.append(bytes, width);
}

}  // namespace

std::optional<Header> parse_header(std::string_view bytes) noexcept {
  if (bytes.size() < kHeaderBytes) return std::nullopt;
  Header h;
  h.magic = static_cast<std::uint8_t>(read_be(bytes, 0, 1));
  h.opcode = static_cast<std::uint8_t>(read_be(bytes, 1, 1));
  h.key_length = static_cast<std::uint16_t>(read_be(bytes, 2, 2));
  h.extras_length = static_cast<std::uint8_t>(read_be(bytes, 4, 1));
  h.data_type = static_cast<std::uint8_t>(read_be(bytes, 5, 1));
  h.vbucket_or_status = static_cast<std::uint16_t>(read_be(bytes, 6, 2));
  h.body_length = static_cast<std::uint32_t>(read_be(bytes, 8, 4));
  h.opaque = static_cast<std::uint32_t>(read_be(bytes, 12, 4));
  h.cas = read_be(bytes, 16, 8);
  return h;
}

void append_reply(service::OutputBuffer& out, const Reply& r) {
  const std::size_t body = r.extras.size() + r.key.size() + r.value.size();
  out.reserve_more(kHeaderBytes + body);
  append_be(out, kResponseMagic, 1);
  append_be(out, r.opcode, 1);
  append_be(out, r.key.size(), 2);
  append_be(out, r.extras.size(), 1);
  append_be(out, 0, 1);  // data type: raw bytes
  append_be(out, static_cast<std::uint16_t>(r.status), 2);
  append_be(out, body, 4);
  append_be(out, r.opaque, 4);
  append_be(out, r.cas, 8);
  out.append(r.extras);
  out.append(r.key);
  out.append(r.value);
}

}  // namespace katsubushi::proto::binary
