// One memcached meta-protocol request line (mg, mn, ms, md, ma, me), parsed
// without copying: every string_view points into the line the parser was
// given. Meta lines share the text protocol's line framer and tokenizer.
//
// Only `mg` and `mn` are served; ms/md/ma/me are recognised so that each gets
// a clear error and `ms`'s data block is skipped to keep the stream in sync.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::proto {

// memcached's MFLAG_MAX_OPAQUE_LENGTH: an O(opaque) token's value, without the 'O'.
inline constexpr std::size_t kMaxOpaqueBytes = 32;
// Flags an mg may carry that are echoed or answered: b c f k O q s t v, each
// at most once (P and L are accepted and ignored, never recorded).
inline constexpr std::size_t kMaxMetaReturnFlags = 9;

enum class MetaCommandKind {
  get,         // mg <key> <flags>*
  noop,        // mn
  set,         // ms <key> <datalen> <flags>*: a data block follows
  remove,      // md <key> <flags>*
  arithmetic,  // ma <key> <flags>*
  debug,       // me <key>
};

// Why a meta line was refused; each has its own reply (meta_reply.hpp).
enum class MetaError {
  none,
  bad_format,       // no key; key over 250 bytes or with control bytes; opaque with
                    // control bytes; ms without a numeric datalen
  invalid_flag,     // a flag this server does not know, or a one-letter flag with more letters
  duplicate_flag,   // the same flag twice
  opaque_too_long,  // O's value over kMaxOpaqueBytes
  bad_base64_key,   // b, and the key is not canonical padded base64 of 1+ bytes
};

// The mg flags, by what they ask for (memcached's letters in comments).
struct MetaFlags {
  bool base64_key = false;    // b: the key is base64; returned as given, marked with b
  bool return_cas = false;    // c: c<cas>, the id
  bool return_flags = false;  // f: f0
  bool return_key = false;    // k: k<key>
  bool opaque = false;        // O<token>: echoed
  bool quiet = false;         // q: suppress EN (misses); every mg here is a hit
  bool return_size = false;   // s: s<value length>
  bool return_ttl = false;    // t: t-1
  bool return_value = false;  // v: VA <len> and the id as a data block, instead of HD

  friend bool operator==(const MetaFlags&, const MetaFlags&) = default;
};

struct MetaRequest {
  MetaCommandKind kind = MetaCommandKind::noop;
  std::string_view key;     // as sent: the base64 text when flags.base64_key
  std::string_view opaque;  // O's token without the 'O'
  MetaFlags flags;
  // The mg flags in the order the request gave them, as letters: replies
  // return flags in that order, as memcached does.
  std::array<char, kMaxMetaReturnFlags> order{};
  std::size_t order_size = 0;
  std::uint64_t data_bytes = 0;  // ms: the announced block, without its "\r\n"

  std::string_view flag_order() const noexcept { return {order.data(), order_size}; }
};

// The meta command a request line's first token names (case-insensitive, as
// every command name here is), if any.
std::optional<MetaCommandKind> meta_command_kind(std::string_view name) noexcept;

// Two-letter name of a meta command: "mg", "mn", ...
std::string_view meta_command_name(MetaCommandKind kind) noexcept;

// Parses one meta request line (without its "\n" or "\r\n"). `out` is reset
// first; on an error its fields are unspecified. Never throws, never reads
// outside `line`, allocates nothing.
MetaError parse_meta_line(std::string_view line, MetaRequest& out) noexcept;

// The canonical line of a request that parsed: parse_meta_line of it gives
// the same request back. ms/md/ma/me keep only what framing needs.
std::string render_meta_request(const MetaRequest& request);

}  // namespace katsubushi::proto
