#include "bench/binary_reply.hpp"

namespace katsubushi::bench::detail {

namespace {

constexpr std::uint16_t kStatusOk = 0x0000;
constexpr std::uint16_t kStatusKeyNotFound = 0x0001;
constexpr std::uint16_t kStatusInvalidArguments = 0x0004;
constexpr std::uint16_t kStatusUnknownCommand = 0x0081;

enum Opcode : std::uint8_t { get = 0x00, getq = 0x09, getk = 0x0C, getkq = 0x0D };

std::uint32_t big_endian(std::string_view bytes) noexcept {
  std::uint32_t v = 0;
  for (const char c : bytes) v = (v << 8U) | static_cast<unsigned char>(c);
  return v;
}

ReplyEnd end_of_error(std::uint16_t status) noexcept {
  if (status == kStatusInvalidArguments) return ReplyEnd::client_error;
  if (status == kStatusUnknownCommand) return ReplyEnd::error;
  return ReplyEnd::server_error;
}

}  // namespace

BinaryPacket read_binary_header(std::string_view header) noexcept {
  BinaryPacket p;
  if (header.empty() || header.front() != kResponseMagic) {
    p.problem = "a binary packet whose magic is not 0x81";
    return p;
  }
  if (header.size() < kBinaryHeaderBytes) {
    p.problem = "a binary header cut short";
    return p;
  }
  const auto opcode = static_cast<unsigned char>(header[1]);
  const std::uint32_t key_length = big_endian(header.substr(2, 2));
  const auto extras_length = static_cast<unsigned char>(header[4]);
  const auto status = static_cast<std::uint16_t>(big_endian(header.substr(6, 2)));
  p.body_length = big_endian(header.substr(8, 4));
  if (p.body_length > kMaxBinaryBodyBytes) {
    p.problem = "a binary packet whose body is over 1 MiB";
    return p;
  }
  if (std::uint64_t{key_length} + extras_length > p.body_length) {
    p.problem = "a binary packet whose key and extras are longer than its body";
    return p;
  }
  p.value_offset = kBinaryHeaderBytes + extras_length + key_length;
  const bool is_get = opcode == Opcode::get || opcode == Opcode::getk;
  const bool is_quiet_get = opcode == Opcode::getq || opcode == Opcode::getkq;
  p.ends_reply = !is_quiet_get;
  if (status == kStatusOk) {
    p.has_value = is_get || is_quiet_get;
  } else if (status != kStatusKeyNotFound) {
    p.is_error = true;
    p.end = end_of_error(status);
  }
  return p;
}

}  // namespace katsubushi::bench::detail
