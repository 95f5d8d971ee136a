// Memcached text written out by hand for tests: the replies a request is
// owed, independent of the session's own reply writer, and bytes made
// readable for failure messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "service/stats.hpp"

namespace katsubushi::testing {

// "VALUE <key> 0 <len>[ <cas>]\r\n<id>\r\n" for one key.
inline std::string value_reply(std::string_view key, std::uint64_t id, bool with_cas = false) {
  const std::string digits = std::to_string(id);
  std::string out = "VALUE " + std::string(key) + " 0 " + std::to_string(digits.size());
  if (with_cas) out += " " + digits;
  return out + "\r\n" + digits + "\r\n";
}

// "STAT <name> <value>\r\n" for each, then "END\r\n".
inline std::string stats_reply(const service::StatList& list) {
  std::string out;
  for (const auto& [name, value] : list) {
    out.append("STAT ").append(name).append(" ").append(value).append("\r\n");
  }
  return out + "END\r\n";
}

// `s` with \r, \n, \\, \" and every other byte outside printable ASCII
// escaped (\xHH), so that different bytes never print the same.
inline std::string escaped(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\' || c == '"') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace katsubushi::testing
