// The pieces of the text-protocol parser that the meta parser shares: how a
// request line splits into tokens, and ASCII case folding for command names.
#pragma once

#include <cstddef>
#include <string_view>

#include "service/ascii.hpp"

namespace katsubushi::proto {

// go-katsubushi splits request lines with Go's strings.Fields, so besides the
// space it takes tab, vertical tab, form feed and a stray '\r' as separators
// ("get\ta", "get a\r\r\n"). '\n' never reaches a tokenizer: it ends the line.
constexpr bool is_token_separator(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

// Splits a line into tokens; runs of separators count as one, and separators
// at either end are ignored. Tokens point into the line.
class TextTokenizer {
 public:
  explicit constexpr TextTokenizer(std::string_view line, std::size_t from = 0) noexcept
      : s_(line), pos_(from) {}

  constexpr bool next(std::string_view& token) noexcept {
    while (pos_ < s_.size() && is_token_separator(s_[pos_])) ++pos_;
    if (pos_ >= s_.size()) return false;
    const std::size_t start = pos_;
    while (pos_ < s_.size() && !is_token_separator(s_[pos_])) ++pos_;
    token = s_.substr(start, pos_ - start);
    return true;
  }
  // Where the next token's search starts: a later TextTokenizer(line, position())
  // goes on from here.
  constexpr std::size_t position() const noexcept { return pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace katsubushi::proto
