// For tests and fuzzers (no GoogleTest here): HTTP responses read back from
// a byte stream, and a checker of the Prometheus text format, both written
// from the specs independently of the code that produces them.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "service/ascii.hpp"

namespace katsubushi::testing {

struct ParsedResponse {
  unsigned status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // in order
  std::string body;
  bool head = false;  // read as the reply to a HEAD: no body followed

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (service::iequals_ascii(n, name)) return v;
    }
    return std::nullopt;
  }
  bool closes() const { return header("Connection") == "close"; }
};

struct ParsedStream {
  std::vector<ParsedResponse> responses;
  std::string error;  // empty: the whole stream was well-formed responses
};

// Reads `stream` as consecutive responses: "HTTP/1.1 NNN Reason\r\n", fields
// "Name: value\r\n", "\r\n", then Content-Length bytes of body (none when the
// request at that position was a HEAD: `head_at` holds those positions).
// With `infer_head` (for a fuzzer, which does not know its requests), a
// response followed by nothing or by "HTTP/1.1 " is taken as a HEAD reply:
// no body of ours starts that way. Stops at the first malformed byte and
// says what it was.
inline ParsedStream parse_responses(std::string_view stream,
                                    const std::set<std::size_t>& head_at = {},
                                    bool infer_head = false) {
  ParsedStream out;
  std::size_t pos = 0;
  const auto line = [&](std::string_view& l) {
    const std::size_t end = stream.find("\r\n", pos);
    if (end == std::string_view::npos) return false;
    l = stream.substr(pos, end - pos);
    pos = end + 2;
    return true;
  };
  while (pos < stream.size()) {
    const std::size_t at = out.responses.size();
    ParsedResponse r;
    std::string_view status_line;
    if (!line(status_line)) {
      out.error = "response " + std::to_string(at) + ": no status line";
      return out;
    }
    // "HTTP/1.1 " 3 digits, " ", a reason of printable ASCII.
    if (!status_line.starts_with("HTTP/1.1 ") || status_line.size() < 14 ||
        status_line[12] != ' ') {
      out.error =
          "response " + std::to_string(at) + ": bad status line " + std::string(status_line);
      return out;
    }
    for (std::size_t i = 9; i < 12; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(status_line[i]))) {
        out.error = "response " + std::to_string(at) + ": bad status code";
        return out;
      }
    }
    std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
    r.reason = std::string(status_line.substr(13));
    if (r.status < 100 || r.status > 599) {
      out.error = "response " + std::to_string(at) + ": status out of range";
      return out;
    }
    for (const char c : r.reason) {
      if (c < 0x20 || c > 0x7e) {
        out.error = "response " + std::to_string(at) + ": control byte in the reason";
        return out;
      }
    }
    std::string_view field;
    for (;;) {
      if (!line(field)) {
        out.error = "response " + std::to_string(at) + ": header not terminated";
        return out;
      }
      if (field.empty()) break;
      const std::size_t colon = field.find(": ");
      if (colon == std::string_view::npos || colon == 0) {
        out.error = "response " + std::to_string(at) + ": bad field " + std::string(field);
        return out;
      }
      for (const char c : field) {
        if (c < 0x20 || c > 0x7e) {
          out.error = "response " + std::to_string(at) + ": control byte in a field";
          return out;
        }
      }
      r.headers.emplace_back(field.substr(0, colon), field.substr(colon + 2));
    }
    const auto length_text = r.header("Content-Length");
    std::uint64_t length = 0;
    if (!length_text ||
        std::from_chars(length_text->data(), length_text->data() + length_text->size(), length)
                .ptr != length_text->data() + length_text->size() ||
        length_text->empty()) {
      out.error = "response " + std::to_string(at) + ": no valid Content-Length";
      return out;
    }
    const std::string_view rest = stream.substr(pos);
    const bool head =
        head_at.contains(at) || (infer_head && (rest.empty() || rest.starts_with("HTTP/1.1 ")));
    r.head = head;
    if (!head) {
      if (stream.size() - pos < length) {
        out.error = "response " + std::to_string(at) + ": body shorter than Content-Length";
        return out;
      }
      r.body = std::string(stream.substr(pos, length));
      pos += length;
    }
    out.responses.push_back(std::move(r));
  }
  return out;
}

// Checks `text` against the Prometheus text format 0.0.4 as /metrics must
// keep it: every line a comment (# HELP / # TYPE) or a sample; a family's
// HELP then TYPE before its samples, each once; names valid; label values
// quoted with only \\, \" and \n escaped; values numbers; counters end in
// _total. Returns "" or the first problem.
inline std::string check_exposition(std::string_view text) {
  const auto valid_name = [](std::string_view s, bool colons) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (const char c : s) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (colons && c == ':'))) {
        return false;
      }
    }
    return true;
  };
  std::map<std::string, std::string> type_of;
  std::set<std::string> helped;
  std::set<std::string> sampled_families;
  std::set<std::string> samples;
  std::string current;  // family whose samples may follow
  if (!text.empty() && !text.ends_with('\n')) return "last line has no newline";
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view l = text.substr(pos, nl - pos);
    pos = nl + 1;
    const std::string where = "line \"" + std::string(l) + "\": ";
    if (l.starts_with("# HELP ") || l.starts_with("# TYPE ")) {
      const std::string_view rest = l.substr(7);
      const std::size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) return where + "no text after the name";
      const std::string name(rest.substr(0, sp));
      if (!valid_name(name, true)) return where + "bad metric name";
      if (sampled_families.contains(name)) return where + "comment after the family's samples";
      if (l[2] == 'H') {
        if (!helped.insert(name).second) return where + "second HELP";
        if (type_of.contains(name)) return where + "HELP after TYPE";
        current = name;
      } else {
        const std::string type(rest.substr(sp + 1));
        if (type != "counter" && type != "gauge" && type != "untyped" && type != "summary" &&
            type != "histogram") {
          return where + "unknown type";
        }
        if (!type_of.emplace(name, type).second) return where + "second TYPE";
        if (!helped.contains(name)) return where + "TYPE without HELP before it";
        if (type == "counter" && !name.ends_with("_total")) return where + "counter without _total";
        current = name;
      }
      continue;
    }
    if (l.starts_with('#')) continue;  // another comment
    if (l.empty()) return where + "empty line";
    std::size_t i = 0;
    while (i < l.size() && l[i] != '{' && l[i] != ' ') ++i;
    const std::string name(l.substr(0, i));
    if (!valid_name(name, true)) return where + "bad metric name";
    if (name != current || !type_of.contains(name)) return where + "sample without HELP and TYPE";
    std::string labels;
    if (i < l.size() && l[i] == '{') {
      const std::size_t start = i;
      ++i;
      while (i < l.size() && l[i] != '}') {
        std::size_t j = i;
        while (j < l.size() && l[j] != '=') ++j;
        if (!valid_name(l.substr(i, j - i), false)) return where + "bad label name";
        if (j + 1 >= l.size() || l[j + 1] != '"') return where + "label value not quoted";
        j += 2;
        for (; j < l.size() && l[j] != '"'; ++j) {
          if (l[j] == '\\') {
            if (j + 1 >= l.size() || (l[j + 1] != '\\' && l[j + 1] != '"' && l[j + 1] != 'n')) {
              return where + "bad escape in a label value";
            }
            ++j;
          }
        }
        if (j >= l.size()) return where + "label value not closed";
        i = j + 1;
        if (i < l.size() && l[i] == ',') ++i;
      }
      if (i >= l.size()) return where + "labels not closed";
      ++i;
      labels = std::string(l.substr(start, i - start));
    }
    if (i >= l.size() || l[i] != ' ') return where + "no value";
    const std::string value(l.substr(i + 1));
    char* end = nullptr;
    (void)std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size()) return where + "value not a number";
    if (!samples.insert(name + labels).second) return where + "duplicate sample";
    sampled_families.insert(name);
  }
  return "";
}

}  // namespace katsubushi::testing
