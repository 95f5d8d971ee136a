#include "conform/escape.hpp"

#include <algorithm>

namespace katsubushi::conform {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool decode_escape(std::string_view text, std::size_t i, char& out, std::size_t& used,
                   std::string& error) {
  if (i + 1 >= text.size()) {
    error = "a lone \\ at the end";
    return false;
  }
  used = 2;
  switch (text[i + 1]) {
    case 'r':
      out = '\r';
      return true;
    case 'n':
      out = '\n';
      return true;
    case 't':
      out = '\t';
      return true;
    case '0':
      out = '\0';
      return true;
    case '\\':
    case '{':
    case '}':
      out = text[i + 1];
      return true;
    case 'x': {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      const int lo = i + 3 < text.size() ? hex_value(text[i + 3]) : -1;
      if (hi < 0 || lo < 0) {
        error = "\\x needs two hex digits";
        return false;
      }
      out = static_cast<char>(hi * 16 + lo);
      used = 4;
      return true;
    }
    default:
      error = std::string("unknown escape \\") + text[i + 1];
      return false;
  }
}

bool decode_hex(std::string_view text, std::string& out, std::string& error) {
  out.clear();
  int high = -1;
  for (const char c : text) {
    if (c == ' ' || c == '\t') {
      if (high >= 0) {
        error = "hex digits come in pairs";
        return false;
      }
      continue;
    }
    const int v = hex_value(c);
    if (v < 0) {
      error = std::string("not a hex digit: ") + c;
      return false;
    }
    if (high < 0) {
      high = v;
    } else {
      out += static_cast<char>(high * 16 + v);
      high = -1;
    }
  }
  if (high >= 0) {
    error = "an odd number of hex digits";
    return false;
  }
  return true;
}

std::string printable(std::string_view bytes, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min(bytes.size(), max);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        }
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace katsubushi::conform
