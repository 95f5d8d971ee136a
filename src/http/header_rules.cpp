#include "http/header_rules.hpp"

#include <algorithm>
#include <cctype>

#include "service/ascii.hpp"

namespace katsubushi::http {

namespace {

namespace bhttp = boost::beast::http;

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// uri-host [":" port] (RFC 3986 §3.2.2): a reg-name, an IPv4 address or a
// bracketed IP literal, so letters, digits, the unreserved and sub-delims
// characters, ':', '[', ']' and '%' (of an escape or a zone id). Empty is
// valid: a client with no authority sends it so (RFC 9112 §3.2).
bool valid_host(std::string_view host) noexcept {
  constexpr std::string_view kAllowed = "-._~!$&'()*+,;=:[]%";
  return std::all_of(host.begin(), host.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kAllowed.find(c) != std::string_view::npos;
  });
}

// The codings of every Transfer-Encoding line, in order, end in exactly one
// "chunked" (RFC 9112 §6.1, §7): only then does the body end where the chunks
// say. Anything else leaves a request's length unknown.
bool chunked_last_and_once(const bhttp::fields& fields) {
  std::size_t codings = 0;
  std::size_t chunked_at = 0;  // 1-based position of "chunked"; 0 = not seen
  const auto range = fields.equal_range(bhttp::field::transfer_encoding);
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view coding = trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      coding = trim(coding.substr(0, coding.find(';')));  // parameters do not name it
      if (coding.empty()) continue;
      ++codings;
      if (service::iequals_ascii(coding, "chunked")) {
        if (chunked_at != 0) return false;
        chunked_at = codings;
      }
    }
  }
  return codings > 0 && chunked_at == codings;
}

}  // namespace

std::string_view header_refusal(const bhttp::fields& fields, unsigned version) {
  const std::size_t hosts = fields.count(bhttp::field::host);
  if (hosts > 1) return "more than one Host field";
  if (hosts == 0 && version >= 11) return "an HTTP/1.1 request without Host";
  if (hosts == 1 && !valid_host(fields[bhttp::field::host])) return "Host is not a host[:port]";
  if (fields.count(bhttp::field::transfer_encoding) > 0) {
    if (fields.count(bhttp::field::content_length) > 0) {
      return "Transfer-Encoding and Content-Length together";
    }
    if (!chunked_last_and_once(fields)) return "Transfer-Encoding does not end in chunked";
  }
  return {};
}

}  // namespace katsubushi::http
