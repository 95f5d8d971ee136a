// Cuts memcached text and meta requests into lines ("\r\n" or a bare "\n")
// under a length limit, in time linear in the input however it arrives.
#pragma once

#include <cstddef>
#include <string_view>

namespace katsubushi::proto {

// A line still waiting for its '\n' is over the limit only once it is longer
// than a line at the limit plus the '\r' of its "\r\n": otherwise the answer
// would depend on where the reads happen to split the input.
bool unterminated_line_too_long(std::string_view pending, std::size_t max_line_bytes) noexcept;

class LineFramer {
 public:
  enum class Result {
    need_more,  // no whole line yet
    line,       // `line` (without its "\r\n" or "\n") and `used` bytes of input
    too_long,   // the line is over the limit, whole or not
  };

  explicit LineFramer(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Looks for the next line at the front of `pending`; on `line`, the caller
  // consumes `used` bytes before the next call.
  Result next(std::string_view pending, std::string_view& line, std::size_t& used) noexcept;

 private:
  std::size_t max_line_bytes_;
  std::size_t scanned_ = 0;  // bytes of pending input known to hold no '\n'
};

}  // namespace katsubushi::proto
