#include <charconv>

#include "client/exchange.hpp"

namespace katsubushi::client {

bool parse_decimal_id(std::string_view text, std::uint64_t& id) noexcept {
  if (text.empty() || text.size() > 20) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace katsubushi::client
