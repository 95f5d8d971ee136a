#include "bench/json_object.hpp"

#include <cmath>
#include <cstdio>

namespace katsubushi::bench {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void JsonObject::key(std::string_view k) {
  if (!body_.empty()) body_ += ',';
  body_ += json_string(k);
  body_ += ':';
}

void JsonObject::add(std::string_view k, std::uint64_t value) {
  key(k);
  body_ += std::to_string(value);
}

void JsonObject::add(std::string_view k, double value) {
  key(k);
  if (!std::isfinite(value)) {
    body_ += "null";
    return;
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", value);
  body_ += text;
}

void JsonObject::add(std::string_view k, std::string_view value) {
  key(k);
  body_ += json_string(value);
}

void JsonObject::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
}

}  // namespace katsubushi::bench
