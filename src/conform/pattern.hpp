// The byte patterns of conformance cases: literal bytes (written with
// escapes) and placeholders for what varies from run to run, the ids above
// all, and their text form. Matching them is pattern_match.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conform/escape.hpp"

namespace katsubushi::conform {

enum class ElementKind {
  literal,     // exact bytes
  id,          // {id}: a decimal uint64 with bit 63 clear
  id_len,      // {id-len}: decimal, the number of digits of the next {id}
  cas,         // {cas}: decimal, equal to the next {id}
  num,         // {num}: an optional '-' and one or more digits
  any,         // {any}: zero or more bytes up to (not including) '\r' or '\n'
  error,       // {error}: ERROR, CLIENT_ERROR <any> or SERVER_ERROR <any>
  stat_lines,  // {stat-lines}: zero or more "STAT <any>\r\n" lines
  ws,          // {ws}: zero or more of ' ', '\t', '\r', '\n'
};

struct Element {
  ElementKind kind = ElementKind::literal;
  std::string bytes;  // literal only
};

struct Pattern {
  std::vector<Element> elements;
  bool empty() const { return elements.empty(); }
  // Whether the pattern has only literal bytes (then `literal_bytes()` is it).
  bool is_literal() const;
  std::string literal_bytes() const;
};

// Parses the escaped text form. Escapes: \r \n \t \0 \\ \{ \} \xNN.
// `{N*C}` is N copies of the character C (C may be an escape), a literal.
// `{` followed by a lowercase letter or a digit starts a placeholder and must
// be one of those above; any other `{` is a literal brace (JSON reads
// naturally). Every {id-len} and {cas} must have an {id} after it.
// Returns false and sets `error` on a malformed pattern.
bool parse_pattern(std::string_view text, Pattern& out, std::string& error);

// The escaped text form with literals only (requests): escapes and {N*C}.
bool decode_text(std::string_view text, std::string& out, std::string& error);

// The name a placeholder is written with, without braces ("id-len").
std::string_view placeholder_name(ElementKind kind);

}  // namespace katsubushi::conform
