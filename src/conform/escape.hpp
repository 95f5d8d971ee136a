// Bytes as case files write them: the escapes of the text form, hex pairs,
// and the way back (for messages).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace katsubushi::conform {

// One escape starting at text[i] == '\\': \r \n \t \0 \\ \{ \} \xNN. Sets `out`
// to the byte and `used` to the escape's length; false and `error` when it
// is not one.
bool decode_escape(std::string_view text, std::size_t i, char& out, std::size_t& used,
                   std::string& error);

// Hex pairs, whitespace between them ignored ("80 00 0001").
bool decode_hex(std::string_view text, std::string& out, std::string& error);

// Bytes as a case file would write them, for messages: printable ASCII kept,
// the rest escaped; longer input is cut at `max` bytes with "...".
std::string printable(std::string_view bytes, std::size_t max = 120);

}  // namespace katsubushi::conform
