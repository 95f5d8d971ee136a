#include "conform/pattern.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace katsubushi::conform {

namespace {

// Largest {N*C} repetition: enough for any line limit a server may have.
constexpr std::size_t kMaxRepeat = std::size_t{16} * 1024 * 1024;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

struct PlaceholderName {
  std::string_view name;
  ElementKind kind;
};

constexpr std::array<PlaceholderName, 8> kPlaceholders{{
    {"id", ElementKind::id},
    {"id-len", ElementKind::id_len},
    {"cas", ElementKind::cas},
    {"num", ElementKind::num},
    {"any", ElementKind::any},
    {"error", ElementKind::error},
    {"stat-lines", ElementKind::stat_lines},
    {"ws", ElementKind::ws},
}};

// {N*C}: N copies of C.
bool parse_repeat(std::string_view inner, std::string& out, std::string& error) {
  const std::size_t star = inner.find('*');
  std::size_t count = 0;
  const auto [end, ec] = std::from_chars(inner.data(), inner.data() + star, count);
  if (ec != std::errc() || end != inner.data() + star || count > kMaxRepeat) {
    error = "bad repetition {" + std::string(inner) + "}: want {N*C}, N up to " +
            std::to_string(kMaxRepeat);
    return false;
  }
  const std::string_view what = inner.substr(star + 1);
  char c = 0;
  if (what.size() == 1 && what[0] != '\\') {
    c = what[0];
  } else {
    std::size_t used = 0;
    if (what.empty() || what[0] != '\\' || !decode_escape(what, 0, c, used, error) ||
        used != what.size()) {
      if (error.empty()) error = "bad repetition {" + std::string(inner) + "}: C is one character";
      return false;
    }
  }
  out.append(count, c);
  return true;
}

}  // namespace

std::string_view placeholder_name(ElementKind kind) {
  for (const auto& p : kPlaceholders) {
    if (p.kind == kind) return p.name;
  }
  return "literal";
}

bool Pattern::is_literal() const {
  return std::all_of(elements.begin(), elements.end(),
                     [](const Element& e) { return e.kind == ElementKind::literal; });
}

std::string Pattern::literal_bytes() const {
  std::string out;
  for (const Element& e : elements) out += e.bytes;
  return out;
}

bool parse_pattern(std::string_view text, Pattern& out, std::string& error) {
  out.elements.clear();
  std::string lit;
  const auto flush = [&] {
    if (!lit.empty()) out.elements.push_back({ElementKind::literal, std::exchange(lit, {})});
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\') {
      char decoded = 0;
      std::size_t used = 0;
      if (!decode_escape(text, i, decoded, used, error)) return false;
      lit += decoded;
      i += used;
      continue;
    }
    if (c != '{' || i + 1 >= text.size() || !(is_lower(text[i + 1]) || is_digit(text[i + 1]))) {
      lit += c;
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      error = "unclosed placeholder \"" + std::string(text.substr(i, 24)) + "\"";
      return false;
    }
    const std::string_view inner = text.substr(i + 1, close - i - 1);
    i = close + 1;
    if (is_digit(inner[0])) {
      if (inner.find('*') == std::string_view::npos) {
        error = "unknown placeholder {" + std::string(inner) + "}";
        return false;
      }
      if (!parse_repeat(inner, lit, error)) return false;
      continue;
    }
    const auto* known = std::find_if(kPlaceholders.begin(), kPlaceholders.end(),
                                     [&](const PlaceholderName& p) { return p.name == inner; });
    if (known == kPlaceholders.end()) {
      error = "unknown placeholder {" + std::string(inner) + "}";
      return false;
    }
    flush();
    out.elements.push_back({known->kind, {}});
  }
  flush();
  // {id-len} and {cas} describe the next {id}: there must be one.
  bool waiting = false;
  for (const Element& e : out.elements) {
    if (e.kind == ElementKind::id_len || e.kind == ElementKind::cas) waiting = true;
    if (e.kind == ElementKind::id) waiting = false;
  }
  if (waiting) {
    error = "{id-len} or {cas} without an {id} after it";
    return false;
  }
  return true;
}

bool decode_text(std::string_view text, std::string& out, std::string& error) {
  Pattern pattern;
  if (!parse_pattern(text, pattern, error)) return false;
  if (!pattern.is_literal()) {
    error = "placeholders are for replies; a request is literal bytes";
    return false;
  }
  out = pattern.literal_bytes();
  return true;
}

}  // namespace katsubushi::conform
