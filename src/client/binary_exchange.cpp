// The memcached binary protocol: n Get requests (key "id", opaque = their
// index) in one write; each answers a 24-byte header (magic 0x81), the
// extras, and the id in decimal as the value.
#include <array>
#include <string>

#include "client/exchange.hpp"

namespace katsubushi::client {
namespace {

constexpr std::size_t kHeaderBytes = 24;
constexpr unsigned char kRequestMagic = 0x80;
constexpr unsigned char kResponseMagic = 0x81;
constexpr unsigned char kOpGet = 0x00;
constexpr std::string_view kKey = "id";
// A reply body: 4 bytes of flags and at most 20 digits; an error's text is
// longer, but not this long.
constexpr std::uint32_t kMaxBodyBytes = 4096;

std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
std::uint16_t be16(const std::string& s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                    static_cast<unsigned char>(s[at + 1]));
}

void put_get(std::string& out, std::uint32_t opaque) {
  std::array<unsigned char, kHeaderBytes> h{};
  h[0] = kRequestMagic;
  h[1] = kOpGet;
  h[3] = static_cast<unsigned char>(kKey.size());
  h[11] = static_cast<unsigned char>(kKey.size());  // body length = key length
  for (std::size_t i = 0; i < 4; ++i) {
    h[12 + i] = static_cast<unsigned char>(opaque >> (24 - 8 * i));
  }
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
  out.append(kKey);
}

}  // namespace

ExchangeResult binary_exchange(Connection& conn, const ServerAddress& /*server*/, std::size_t n,
                               SteadyTime deadline, std::vector<std::uint64_t>& ids) {
  std::string request;
  request.reserve(n * (kHeaderBytes + kKey.size()));
  for (std::size_t i = 0; i < n; ++i) put_get(request, static_cast<std::uint32_t>(i));
  if (auto f = conn.write_all(request, deadline)) return {f};
  std::string header;
  std::string body;
  for (std::size_t i = 0; i < n; ++i) {
    if (auto f = conn.read_exact(kHeaderBytes, header, deadline)) return {f};
    if (static_cast<unsigned char>(header[0]) != kResponseMagic) {
      return {{TryErrc::bad_reply, "not a binary response"}};
    }
    const std::uint16_t key_len = be16(header, 2);
    const auto extras_len = static_cast<unsigned char>(header[4]);
    const std::uint16_t status = be16(header, 6);
    const std::uint32_t body_len = be32(header, 8);
    const std::uint32_t opaque = be32(header, 12);
    if (body_len > kMaxBodyBytes || std::size_t{key_len} + extras_len > body_len) {
      return {{TryErrc::bad_reply, "bad body length " + std::to_string(body_len)}};
    }
    if (auto f = conn.read_exact(body_len, body, deadline)) return {f};
    const std::string value = body.substr(std::size_t{key_len} + extras_len);
    if (status != 0) {
      return {{TryErrc::server_error, "status " + std::to_string(status) + ": " + value}};
    }
    if (header[1] != static_cast<char>(kOpGet) || opaque != i) {
      return {{TryErrc::bad_reply, "reply out of order"}};
    }
    std::uint64_t id = 0;
    if (!parse_decimal_id(value, id)) return {{TryErrc::bad_id, "not a number: " + value}};
    ids.push_back(id);
  }
  return {};
}

}  // namespace katsubushi::client
