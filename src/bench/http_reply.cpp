#include "bench/http_reply.hpp"

#include <charconv>

#include "service/ascii.hpp"

namespace katsubushi::bench::detail {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated `value` holds the token `close`.
bool has_close_token(std::string_view value) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (service::iequals_ascii(trim(value.substr(0, comma)), "close")) return true;
    value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
  }
  return false;
}

// "HTTP/1.x NNN[ reason]".
bool read_status_line(std::string_view line, unsigned& status) noexcept {
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  const std::string_view digits = line.substr(9, 3);
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
  return ec == std::errc() && ptr == digits.data() + digits.size() && status >= 100;
}

}  // namespace

HttpHead read_http_head(std::string_view head) noexcept {
  HttpHead out;
  bool first = true;
  bool has_length = false;
  while (!head.empty()) {
    const std::size_t end = head.find("\r\n");
    if (end == std::string_view::npos) {
      out.problem = head;  // callers pass whole lines; kept for safety
      return out;
    }
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end + 2);
    if (first) {
      first = false;
      if (!read_status_line(line, out.status)) {
        out.problem = line.empty() ? std::string_view("an empty status line") : line;
        return out;
      }
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
      out.problem = line;
      return out;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (service::iequals_ascii(name, "Content-Length")) {
      std::uint64_t n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (has_length || value.empty() || ec != std::errc() || ptr != value.data() + value.size() ||
          n > kMaxHttpBodyBytes) {
        out.problem = line;
        return out;
      }
      has_length = true;
      out.content_length = n;
    } else if (service::iequals_ascii(name, "Connection")) {
      out.close = out.close || has_close_token(value);
    }
  }
  if (!has_length) out.problem = "a response without Content-Length";
  return out;
}

ReplyEnd end_of_status(unsigned status) noexcept {
  if (status == 200) return ReplyEnd::end;
  if (status >= 400 && status < 500) return ReplyEnd::client_error;
  return ReplyEnd::server_error;
}

}  // namespace katsubushi::bench::detail
