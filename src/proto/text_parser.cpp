#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <span>

#include "proto/meta_command.hpp"
#include "proto/text_command.hpp"
#include "proto/text_parser.hpp"

namespace katsubushi::proto {

namespace {

// Enough tokens for any non-get command; get/gets take the rest of the line.
constexpr std::size_t kMaxFixedTokens = 8;

template <typename T>
bool parse_uint(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_int(std::string_view s) {
  std::uint64_t v = 0;  // unsigned, so a second sign ("--1") is rejected
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  return parse_uint(s, v);
}

bool is_storage_name(std::string_view name) {
  return service::iequals_ascii(name, "set") || service::iequals_ascii(name, "add") || service::iequals_ascii(name, "replace") ||
         service::iequals_ascii(name, "append") || service::iequals_ascii(name, "prepend");
}

void parse_storage(std::string_view name, std::span<const std::string_view> args,
                   TextCommand& out) {
  // <key> <flags> <exptime> <bytes> [<cas>] [noreply]
  const bool is_cas = service::iequals_ascii(name, "cas");
  const std::size_t fixed = is_cas ? 5 : 4;
  out.kind = TextCommandKind::bad_format;
  if (args.size() != fixed && args.size() != fixed + 1) return;
  if (args.size() == fixed + 1) {
    if (args.back() != "noreply") return;
    out.noreply = true;
  }
  std::uint32_t flags = 0;
  std::uint64_t cas = 0;
  if (!parse_uint(args[1], flags) || !parse_int(args[2]) ||
      !parse_uint(args[3], out.data_bytes) || (is_cas && !parse_uint(args[4], cas))) {
    out.noreply = false;
    out.data_bytes = 0;  // may hold a parsed size when only the cas was bad
    return;
  }
  // A bad key is still a well-framed request: swallow its block, then ERROR.
  out.kind = TextCommandKind::storage;
}

}  // namespace

std::vector<std::string_view> split_keys(std::string_view keys) {
  std::vector<std::string_view> out;
  TextTokenizer tokens(keys);
  std::string_view key;
  while (tokens.next(key)) out.push_back(key);
  return out;
}

namespace {

constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;

// The high bit of each byte of `word` that is zero, exactly (no borrow
// between bytes).
constexpr std::uint64_t zero_bytes(std::uint64_t word) noexcept {
  return ~(((word & kLow7) + kLow7) | word) & kHigh;
}

// The high bit of each byte below 0x21 (a separator or a control byte).
constexpr std::uint64_t below_0x21(std::uint64_t word) noexcept {
  return ~(((word & kLow7) + 0x5f * kOnes) | word) & kHigh;
}

}  // namespace

void GetKeyScan::feed_byte(unsigned char c) noexcept {
  if (is_token_separator(static_cast<char>(c))) {
    run_ = 0;
    return;
  }
  if (run_ == 0) ++count_;
  ++run_;
  if (run_ > kMaxKeyBytes || c <= 0x20 || c == 0x7f) valid_ = false;
}

// Eight bytes, the first in the low byte. Only spaces separate keys here
// (any other byte below 0x21 goes byte by byte, as do the rare tabs).
// Inlined into feed()'s loop: a call per word was a third of the scan.
[[gnu::always_inline]] inline void GetKeyScan::feed_word(std::uint64_t word) noexcept {
  const std::uint64_t spaces = zero_bytes(word ^ (0x20 * kOnes));
  if (below_0x21(word) != spaces) {
    for (int i = 0; i < 8; ++i) feed_byte(static_cast<unsigned char>(word >> (8 * i)));
    return;
  }
  if (zero_bytes(word ^ kLow7) != 0) valid_ = false;  // a DEL, inside a key
  if (spaces == 0) {
    if (run_ == 0) ++count_;
    run_ += 8;
    if (run_ > kMaxKeyBytes) valid_ = false;
    return;
  }
  // A key starts at each key byte after a space (or after a separator
  // before this word).
  const std::uint64_t after_space = (spaces << 8) | (run_ == 0 ? 0x80 : 0);
  // Counted by a multiply: std::popcount is a library call on baseline x86-64.
  const std::uint64_t starts = (~spaces & kHigh & after_space) >> 7;
  count_ += static_cast<std::size_t>((starts * kOnes) >> 56);
  const auto first = static_cast<std::size_t>(std::countr_zero(spaces) / 8);
  if (run_ + first > kMaxKeyBytes) valid_ = false;
  const auto last = static_cast<std::size_t>((63 - std::countl_zero(spaces)) / 8);
  run_ = 7 - last;
}

void GetKeyScan::feed(std::string_view bytes) noexcept {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  for (; end - p >= 8; p += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, sizeof word);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    feed_word(word);
  }
  for (; p < end; ++p) feed_byte(static_cast<unsigned char>(*p));
}

bool is_get_name(std::string_view name) noexcept {
  return service::iequals_ascii(name, "get") || service::iequals_ascii(name, "gets");
}

bool valid_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void parse_text_line(std::string_view line, TextCommand& out, const KeysScannedAhead* ahead) {
  out.kind = TextCommandKind::empty;
  out.keys = {};
  out.key_count = 0;
  out.stats_group = {};
  out.stats_args = {};
  out.stats_nargs = 0;
  out.data_bytes = 0;
  out.noreply = false;

  TextTokenizer tokens(line);
  std::string_view name;
  if (!tokens.next(name)) return;

  if (is_get_name(name)) {
    out.kind = name.size() == 3 ? TextCommandKind::get : TextCommandKind::gets;
    out.keys = line.substr(tokens.position());
    GetKeyScan scan;
    if (ahead != nullptr && ahead->keys_from == tokens.position()) {
      // What it saw may include the '\r' of a "\r\n" (a separator: it
      // changes nothing).
      scan = ahead->scan;
      scan.feed(line.substr(std::min(ahead->upto, line.size())));
    } else {
      scan.feed(out.keys);
    }
    out.key_count = scan.count();
    if (out.key_count == 0) {
      out.kind = TextCommandKind::unknown;  // memcached answers a bare "get" with ERROR
    } else if (!scan.all_valid()) {
      out.kind = TextCommandKind::bad_format;
    }
    return;
  }
  if (meta_command_kind(name)) {
    out.kind = TextCommandKind::meta;
    return;
  }

  std::array<std::string_view, kMaxFixedTokens> args{};
  std::size_t nargs = 0;
  std::string_view tok;
  bool too_many = false;
  while (tokens.next(tok)) {
    if (nargs == args.size()) {
      too_many = true;
      break;
    }
    args[nargs++] = tok;
  }
  const std::span<const std::string_view> argv(args.data(), nargs);

  if (service::iequals_ascii(name, "stats")) {
    // memcached reads the group and the arguments it takes, and ignores the rest.
    out.kind = TextCommandKind::stats;
    if (nargs >= 1) out.stats_group = argv[0];
    for (std::size_t i = 1; i < nargs && out.stats_nargs < kMaxStatsArgs; ++i) {
      out.stats_args[out.stats_nargs++] = argv[i];
    }
  } else if (service::iequals_ascii(name, "version")) {
    out.kind = TextCommandKind::version;  // go-katsubushi ignores arguments
  } else if (service::iequals_ascii(name, "quit")) {
    out.kind = TextCommandKind::quit;  // go-katsubushi ignores arguments
  } else if (service::iequals_ascii(name, "verbosity")) {
    std::uint32_t level = 0;
    if (nargs == 0 || too_many) {
      out.kind = TextCommandKind::unknown;
    } else if (nargs > 2 || !parse_uint(argv[0], level) ||
               (nargs == 2 && argv[1] != "noreply")) {
      out.kind = TextCommandKind::bad_format;
    } else {
      out.kind = TextCommandKind::verbosity;
      out.noreply = nargs == 2;
    }
  } else if (is_storage_name(name) || service::iequals_ascii(name, "cas")) {
    if (too_many) {
      out.kind = TextCommandKind::bad_format;
    } else {
      parse_storage(name, argv, out);
    }
  } else {
    out.kind = TextCommandKind::unknown;
  }
}

}  // namespace katsubushi::proto
