#include "http/request_target.hpp"

#include <algorithm>
#include <vector>

namespace katsubushi::http {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form decoding: false on a '%' not followed by two hex digits.
bool form_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (in.size() - i < 3) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

// The origin-form part of `target`: from the path on.
std::string_view origin_form(std::string_view target) noexcept {
  if (target.starts_with('/')) return target;
  const std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const std::size_t path = target.find_first_of("/?", scheme_end + 3);
  if (path == std::string_view::npos) return "/";
  return target.substr(path);
}

}  // namespace

std::string_view target_path(std::string_view target) noexcept {
  const std::string_view origin = origin_form(target);
  if (origin.empty()) return target;
  if (origin.starts_with('?')) return "/";
  return origin.substr(0, origin.find('?'));
}

std::string_view target_query(std::string_view target) noexcept {
  const std::string_view origin = origin_form(target);
  const std::size_t q = origin.find('?');
  if (q == std::string_view::npos) return {};
  // A fragment is never sent, but if it is, it is not part of the query.
  return origin.substr(q + 1, origin.find('#', q) - (q + 1));
}

bool escapes_well_formed(std::string_view target) noexcept {
  for (std::size_t i = target.find('%'); i != std::string_view::npos; i = target.find('%', i + 3)) {
    if (target.size() - i < 3 || hex_value(target[i + 1]) < 0 || hex_value(target[i + 2]) < 0) {
      return false;
    }
  }
  return true;
}

std::string clean_path(std::string_view path) {
  if (!path.starts_with('/')) return std::string(path);
  std::vector<std::string_view> segments;
  std::size_t from = 1;
  while (from <= path.size()) {
    const std::size_t slash = std::min(path.find('/', from), path.size());
    const std::string_view segment = path.substr(from, slash - from);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    from = slash + 1;
  }
  std::string clean;
  clean.reserve(path.size());
  for (const std::string_view segment : segments) {
    clean += '/';
    clean += segment;
  }
  if (clean.empty() || path.ends_with('/')) clean += '/';
  return clean;
}

std::optional<std::string> query_value(std::string_view query, std::string_view key) {
  std::string name;
  std::string value;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (!form_decode(raw_name, name) || name != key) continue;
    if (!form_decode(raw_value, value)) continue;
    return value;
  }
  return std::nullopt;
}

}  // namespace katsubushi::http
