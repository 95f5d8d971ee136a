// The state file format (src/state/state_file.hpp) on arbitrary bytes.
// Oracles: parse() returns or throws StateFileError, nothing else; what it
// accepts is canonical (serialize gives back the very bytes); a record built
// from the input survives serialize -> parse, and a cut or a changed byte of
// its file is refused.
//
// A checksum stands between mutated bytes and the field checks behind it, so
// each input is also parsed as a body closed with its own correct checksum
// line: the fuzzer then reaches the field, order and canonical-form checks.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "id/layout.hpp"
#include "state/state_file.hpp"
#include "support.hpp"

namespace {

using katsubushi::fuzz::check;
using namespace katsubushi::state;

std::optional<StateRecord> try_parse(std::string_view bytes) {
  try {
    return parse(bytes);
  } catch (const StateFileError& e) {
    check(std::strlen(e.what()) > 0);  // a refusal says why
    return std::nullopt;
  }
}

void check_accepted(std::string_view bytes) {
  const auto record = try_parse(bytes);
  if (!record) return;
  check(serialize(*record) == bytes);
  check(record->worker_id <= katsubushi::id::kMaxWorkerId);
  check(record->mark_ms >= 0 && record->mark_ms <= katsubushi::id::kMaxTimestamp);
}

std::string with_checksum(std::string_view body) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", crc32c(body));
  std::string out(body);
  out.append("crc32c ").append(hex).append("\n");
  return out;
}

// A record in range from the first bytes of the input, and its file checked
// whole, cut and with one byte changed, at places the input picks.
void check_record(const std::uint8_t* data, std::size_t size) {
  std::uint64_t raw = 0;
  std::memcpy(&raw, data, size < sizeof raw ? size : sizeof raw);
  const StateRecord record{
      .worker_id = static_cast<std::uint32_t>(raw % (katsubushi::id::kMaxWorkerId + 1)),
      .mark_ms = static_cast<std::int64_t>(
          (raw >> 10) % (static_cast<std::uint64_t>(katsubushi::id::kMaxTimestamp) + 1)),
      .graceful = (raw >> 63) != 0,
  };
  const std::string bytes = serialize(record);
  const auto back = try_parse(bytes);
  check(back.has_value() && *back == record);

  const std::size_t at = size > 8 ? data[8] % bytes.size() : 0;
  check(!try_parse(std::string_view(bytes).substr(0, at)).has_value());
  std::string changed = bytes;
  const auto by = static_cast<char>(size > 9 && data[9] != 0 ? data[9] : 1);
  changed[at] = static_cast<char>(changed[at] ^ by);
  check(!try_parse(changed).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_accepted(text);
  check_accepted(with_checksum(text));
  check_record(data, size);
  // Anything but StateFileError escapes, and libFuzzer reports it as a crash.
  return 0;
}
