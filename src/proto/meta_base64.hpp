// Base64 for meta keys sent with the b flag: the standard alphabet with '='
// padding (RFC 4648 section 4), and only its canonical form, so that a key
// returned "as given" is also exactly the encoding of the bytes it names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::proto {

// How many bytes `encoded` decodes to, or nullopt unless it is canonical:
// a multiple of 4 characters from A-Z a-z 0-9 + /, '=' only as the last one
// or two, and the bits the padding leaves over all zero. Allocates nothing.
std::optional<std::size_t> base64_decoded_size(std::string_view encoded) noexcept;

// The bytes of canonical `encoded`, or nullopt.
std::optional<std::string> base64_decode(std::string_view encoded);

// The canonical encoding of `bytes`.
std::string base64_encode(std::string_view bytes);

}  // namespace katsubushi::proto
