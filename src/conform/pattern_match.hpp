// A pattern matched against a reply as it arrives (streaming: "not yet" is
// an answer) or against a whole body (complete), the ids it covers read out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conform/pattern.hpp"

namespace katsubushi::conform {

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
