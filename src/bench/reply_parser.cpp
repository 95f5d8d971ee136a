#include "bench/reply_parser.hpp"

#include <charconv>

namespace katsubushi::bench::detail {

namespace {

// The next space-separated token of `rest`, which is advanced past it.
std::string_view next_token(std::string_view& rest) noexcept {
  const std::size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const std::size_t end = rest.find(' ');
  const std::string_view token = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return token;
}

bool parse_number(std::string_view token, std::uint64_t& out) noexcept {
  if (token.empty()) return false;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

// A line that is `word` or starts with `word` and a space.
bool is_word(std::string_view line, std::string_view word) noexcept {
  return line.starts_with(word) && (line.size() == word.size() || line[word.size()] == ' ');
}

// Largest data block taken as a reply: anything larger is a desync.
constexpr std::uint64_t kMaxDataLength = 1U << 30;

}  // namespace

Line classify_line(std::string_view line) noexcept {
  Line out;
  if (line == "END") {
    out.kind = LineKind::end;
    out.reply_end = ReplyEnd::end;
  } else if (line == "STORED") {
    out.kind = LineKind::end;
    out.reply_end = ReplyEnd::stored;
  } else if (line == "ERROR") {
    out.kind = LineKind::end;
    out.reply_end = ReplyEnd::error;
  } else if (is_word(line, "CLIENT_ERROR")) {
    out.kind = LineKind::end;
    out.reply_end = ReplyEnd::client_error;
  } else if (is_word(line, "SERVER_ERROR")) {
    out.kind = LineKind::end;
    out.reply_end = ReplyEnd::server_error;
  } else if (is_word(line, "VALUE")) {
    std::string_view rest = line.substr(5);
    const std::string_view key = next_token(rest);
    std::uint64_t flags = 0;
    std::uint64_t length = 0;
    std::uint64_t cas = 0;
    const bool ok = !key.empty() && parse_number(next_token(rest), flags) &&
                    parse_number(next_token(rest), length) && length <= kMaxDataLength;
    const std::string_view cas_token = next_token(rest);
    if (ok && (cas_token.empty() || parse_number(cas_token, cas)) && next_token(rest).empty()) {
      out.kind = LineKind::value;
      out.data_length = static_cast<std::size_t>(length);
    }
  }
  return out;
}

}  // namespace katsubushi::bench::detail
