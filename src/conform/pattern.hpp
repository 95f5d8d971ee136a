// The byte patterns of conformance cases: literal bytes (written with
// escapes) and placeholders for what varies from run to run, the ids above
// all. A pattern is matched against a reply as it arrives (streaming: "not
// yet" is an answer) or against a whole body (complete).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// Hex pairs, whitespace between them ignored ("80 00 0001").
bool decode_hex(std::string_view text, std::string& out, std::string& error);

// Bytes as a case file would write them, for messages: printable ASCII kept,
// the rest escaped; longer input is cut at `max` bytes with "...".
std::string printable(std::string_view bytes, std::size_t max = 120);

enum class MatchStatus { matched, need_more, mismatch };

struct MatchResult {
  MatchStatus status = MatchStatus::mismatch;
  std::size_t consumed = 0;        // matched: the bytes of input the pattern covered
  std::size_t at = 0;              // need_more / mismatch: the input offset concerned
  std::string detail;              // mismatch: what was expected and what came
  std::vector<std::uint64_t> ids;  // matched: every {id}, in order
};

// Matches `pattern` against the start of `input`. Streaming (`complete` false):
// input that ends where more could still make it match gives need_more, and
// bytes after a match are left for the next pattern. Complete: input is all
// there is, and all of it must match.
MatchResult match_pattern(const Pattern& pattern, std::string_view input, bool complete);

// Reads a decimal id: 1 to 20 digits, a uint64, bit 63 clear.
bool parse_id(std::string_view digits, std::uint64_t& id, std::string& error);

}  // namespace katsubushi::conform
