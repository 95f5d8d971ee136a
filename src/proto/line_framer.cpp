#include "proto/line_framer.hpp"

#include <cstring>

namespace katsubushi::proto {

bool unterminated_line_too_long(std::string_view pending, std::size_t max_line_bytes) noexcept {
  if (!pending.empty() && pending.back() == '\r') pending.remove_suffix(1);
  return pending.size() > max_line_bytes;
}

LineFramer::Result LineFramer::next(std::string_view pending, std::string_view& line,
                                    std::size_t& used) noexcept {
  const void* hit = scanned_ < pending.size()
                        ? std::memchr(pending.data() + scanned_, '\n', pending.size() - scanned_)
                        : nullptr;
  if (hit == nullptr) {
    // Remember how far we looked so a line fed a byte at a time costs
    // linear, not quadratic, time.
    scanned_ = pending.size();
    return unterminated_line_too_long(pending, max_line_bytes_) ? Result::too_long
                                                                : Result::need_more;
  }
  const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - pending.data());
  scanned_ = 0;
  line = pending.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > max_line_bytes_) return Result::too_long;
  used = nl + 1;
  return Result::line;
}

}  // namespace katsubushi::proto
