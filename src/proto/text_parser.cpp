#include <array>
#include <charconv>
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

bool valid_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

void parse_text_line(std::string_view line, TextCommand& out) {
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

  if (service::iequals_ascii(name, "get") || service::iequals_ascii(name, "gets")) {
    out.kind = name.size() == 3 ? TextCommandKind::get : TextCommandKind::gets;
    const std::size_t keys_from = tokens.position();
    std::string_view key;
    bool all_valid = true;
    while (tokens.next(key)) {
      all_valid = all_valid && valid_key(key);
      ++out.key_count;
    }
    out.keys = line.substr(keys_from);
    if (out.key_count == 0) {
      out.kind = TextCommandKind::unknown;  // memcached answers a bare "get" with ERROR
    } else if (!all_valid) {
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
