#include "session/sniff.hpp"

#include "proto/line_framer.hpp"

namespace katsubushi::session {

bool looks_like_http_request_line(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = 0;
  while (i < line.size() && line[i] >= 'A' && line[i] <= 'Z') ++i;
  if (i == 0 || i > 16 || i >= line.size() || line[i] != ' ') return false;
  const std::size_t target = i + 1;
  const std::size_t sp = line.find(' ', target);
  if (sp == std::string_view::npos || sp == target) return false;
  const std::string_view version = line.substr(sp + 1);
  return version.size() == 8 && version.substr(0, 7) == "HTTP/1." && version[7] >= '0' &&
         version[7] <= '9';
}

Protocol sniff_protocol(std::string_view pending, std::size_t max_line_bytes) noexcept {
  if (pending.empty()) return Protocol::undecided;
  if (static_cast<unsigned char>(pending.front()) == 0x80) return Protocol::binary;
  const std::size_t nl = pending.find('\n');
  if (nl == std::string_view::npos) {
    // Not a whole line yet. Text is the only other answer a long line can
    // get, so stop waiting once it is over the limit.
    return proto::unterminated_line_too_long(pending, max_line_bytes) ? Protocol::text
                                                               : Protocol::undecided;
  }
  return looks_like_http_request_line(pending.substr(0, nl)) ? Protocol::http : Protocol::text;
}

}  // namespace katsubushi::session
