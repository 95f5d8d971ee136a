#include "bench/requests.hpp"

#include <cstdint>

namespace katsubushi::bench {

namespace {

constexpr char kRequestMagic = '\x80';
constexpr char kOpGet = '\x00';
constexpr char kOpGetKQ = '\x0D';
constexpr char kOpNoop = '\x0A';

void append_big_endian(std::string& out, std::uint32_t v, unsigned bytes) {
  for (unsigned i = bytes; i > 0; --i) out += static_cast<char>((v >> (8U * (i - 1))) & 0xFFU);
}

// A request header and its key (no extras, no value, opaque and cas 0).
void append_packet(std::string& out, char opcode, std::string_view key) {
  const auto key_length = static_cast<std::uint32_t>(key.size());
  out += kRequestMagic;
  out += opcode;
  append_big_endian(out, key_length, 2);
  out.append(4, '\0');                    // extras length, data type, vbucket
  append_big_endian(out, key_length, 4);  // body length
  out.append(12, '\0');                   // opaque, cas
  out += key;
}

}  // namespace

std::optional<Proto> proto_named(std::string_view name) noexcept {
  if (name == "text") return Proto::text;
  if (name == "binary") return Proto::binary;
  if (name == "http") return Proto::http;
  if (name == "grpc") return Proto::grpc;
  return std::nullopt;
}

std::string get_request(Proto proto, const std::string& key_prefix, unsigned keys,
                        const std::string& host) {
  std::string r;
  switch (proto) {
    case Proto::text:
      r = "get";
      for (unsigned i = 0; i < keys; ++i) r += " " + key_prefix + std::to_string(i);
      r += "\r\n";
      break;
    case Proto::binary:
      if (keys == 1) {
        append_packet(r, kOpGet, key_prefix + "0");
      } else {
        for (unsigned i = 0; i < keys; ++i)
          append_packet(r, kOpGetKQ, key_prefix + std::to_string(i));
        append_packet(r, kOpNoop, {});
      }
      break;
    case Proto::http: {
      const bool literal_v6 = host.find(':') != std::string::npos;
      r = keys == 1 ? "GET /id" : "GET /ids?n=" + std::to_string(keys);
      r += " HTTP/1.1\r\nHost: ";
      r += literal_v6 ? "[" + host + "]" : host;
      r += "\r\n\r\n";
      break;
    }
    case Proto::grpc:
      break;
  }
  return r;
}

}  // namespace katsubushi::bench
