#include "http/header_gate.hpp"

namespace katsubushi::http {

namespace {

// A method is a token (RFC 9110 §9.1, §5.6.2), case-sensitive: "get" is a
// method this server does not have (405), not a malformed line. At most 16
// bytes, as the sniffer on the main port takes them (proto/sniff.cpp; it
// takes upper-case ones only, so a first line "get ..." there stays
// memcached text).
constexpr std::size_t kMaxMethodBytes = 16;

bool token_char(char c) noexcept {
  constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         kPunctuation.find(c) != std::string_view::npos;
}
constexpr std::string_view kVersion = "HTTP/1.#\r\n";  // # is any digit

}  // namespace

bool HeaderGate::request_line_byte(char c) noexcept {
  switch (part_) {
    case Part::method:
      if (token_char(c) && part_len_ < kMaxMethodBytes) {
        ++part_len_;
        return true;
      }
      if (c == ' ' && part_len_ > 0) {
        part_ = Part::target;
        part_len_ = 0;
        return true;
      }
      return false;
    case Part::target:
      if (c == ' ' && part_len_ > 0) {
        part_ = Part::version;
        part_len_ = 0;
        return true;
      }
      // Visible ASCII and bytes above it; no controls, spaces or DEL.
      if (static_cast<unsigned char>(c) > 0x20 && c != 0x7f) {
        ++part_len_;
        return true;
      }
      return false;
    case Part::version: {
      const char want = kVersion[part_len_];
      const bool ok = want == '#' ? (c >= '0' && c <= '9') : c == want;
      if (!ok) return false;
      if (++part_len_ == kVersion.size()) {
        part_ = Part::fields;
        part_len_ = 0;
      }
      return true;
    }
    case Part::fields:
    case Part::done:
      break;
  }
  return true;
}

HeaderGate::Verdict HeaderGate::scan(std::string_view pending, std::size_t limit) noexcept {
  if (part_ == Part::done) return Verdict::complete;
  if (pending.size() > limit) pending = pending.substr(0, limit);
  for (std::size_t i = scanned_; i < pending.size(); ++i) {
    const char c = pending[i];
    if (part_ != Part::fields) {
      if (!request_line_byte(c)) return Verdict::bad_request_line;
      continue;
    }
    if (c != '\n') continue;
    if (pending[i - 1] != '\r') return Verdict::bare_lf;
    // "\r\n\r\n": the blank line that ends the header. (The request line's
    // own "\r\n" is behind i - 2 here: i - 2 is at least its '\n'.)
    if (pending[i - 2] == '\n') {
      part_ = Part::done;
      return Verdict::complete;
    }
  }
  scanned_ = pending.size();
  return pending.size() >= limit ? Verdict::too_large : Verdict::need_more;
}

}  // namespace katsubushi::http
