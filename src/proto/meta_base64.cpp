#include "proto/meta_base64.hpp"

#include <array>
#include <cstdint>

namespace katsubushi::proto {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kNotBase64 = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  table.fill(kNotBase64);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr std::array<std::uint8_t, 256> kDecode = make_decode_table();

std::uint8_t sextet(char c) noexcept { return kDecode[static_cast<unsigned char>(c)]; }

// Walks canonical `encoded`, handing each decoded byte to `emit`; false if
// it is not canonical.
template <typename Emit>
bool decode(std::string_view encoded, Emit&& emit) noexcept {
  if (encoded.empty() || encoded.size() % 4 != 0) return false;
  std::size_t pad = 0;
  if (encoded.back() == '=') ++pad;
  if (encoded.size() >= 2 && encoded[encoded.size() - 2] == '=') ++pad;
  if (pad == 1 && encoded[encoded.size() - 2] == '=') return false;  // "x=x=" is not padding
  const std::size_t data_chars = encoded.size() - pad;
  std::uint32_t bits = 0;
  int nbits = 0;
  for (std::size_t i = 0; i < data_chars; ++i) {
    const std::uint8_t v = sextet(encoded[i]);
    if (v == kNotBase64) return false;
    bits = (bits << 6) | v;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      emit(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
  // What padding leaves over (4 bits after "xx==", 2 after "xxx=") must be zero.
  return (bits & ((1u << nbits) - 1)) == 0;
}

}  // namespace

std::optional<std::size_t> base64_decoded_size(std::string_view encoded) noexcept {
  std::size_t n = 0;
  if (!decode(encoded, [&n](char) { ++n; })) return std::nullopt;
  return n;
}

std::optional<std::string> base64_decode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size() / 4 * 3);
  if (!decode(encoded, [&out](char c) { out.push_back(c); })) return std::nullopt;
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto byte = [&bytes](std::size_t at) -> std::uint32_t {
    return static_cast<unsigned char>(bytes[at]);
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    const std::uint32_t v = (byte(i) << 16) | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace katsubushi::proto
