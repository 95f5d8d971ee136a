#include "proto/meta_command.hpp"

#include <charconv>

#include "proto/meta_base64.hpp"
#include "proto/text_command.hpp"
#include "proto/text_parser.hpp"

namespace katsubushi::proto {

namespace {

struct NamedMetaCommand {
  std::string_view name;
  MetaCommandKind kind;
};

constexpr std::array<NamedMetaCommand, 6> kMetaCommands = {{
    {"mg", MetaCommandKind::get},
    {"mn", MetaCommandKind::noop},
    {"ms", MetaCommandKind::set},
    {"md", MetaCommandKind::remove},
    {"ma", MetaCommandKind::arithmetic},
    {"me", MetaCommandKind::debug},
}};

bool is_control_byte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// The field an mg flag letter sets, or null for a letter mg does not take.
bool* flag_field(MetaFlags& flags, char letter) noexcept {
  switch (letter) {
    case 'b': return &flags.base64_key;
    case 'c': return &flags.return_cas;
    case 'f': return &flags.return_flags;
    case 'k': return &flags.return_key;
    case 'O': return &flags.opaque;
    case 'q': return &flags.quiet;
    case 's': return &flags.return_size;
    case 't': return &flags.return_ttl;
    case 'v': return &flags.return_value;
    default: return nullptr;
  }
}

// memcached lets every meta command carry P and L tokens, route hints for a
// proxy in between, and ignores them.
bool is_proxy_hint(char letter) noexcept { return letter == 'P' || letter == 'L'; }

// mg's flags, then the checks that need all of them (b changes the key rule).
// As in memcached, a bad or repeated flag is reported before a bad key or
// opaque.
MetaError parse_get_flags(TextTokenizer& tokens, MetaRequest& out) noexcept {
  bool hint_seen[2] = {false, false};  // P, L
  std::string_view token;
  while (tokens.next(token)) {
    const char letter = token.front();
    if (is_proxy_hint(letter)) {
      bool& seen = hint_seen[letter == 'L' ? 1 : 0];
      if (seen) return MetaError::duplicate_flag;
      seen = true;
      continue;
    }
    bool* field = flag_field(out.flags, letter);
    // Only O takes a value; "kv" is not two flags.
    if (field == nullptr || (letter != 'O' && token.size() != 1)) return MetaError::invalid_flag;
    if (*field) return MetaError::duplicate_flag;
    *field = true;
    // Each letter is recorded once at most, so `order` cannot overflow.
    out.order[out.order_size++] = letter;
    if (letter == 'O') out.opaque = token.substr(1);
  }
  if (out.flags.base64_key) {
    if (!base64_decoded_size(out.key)) return MetaError::bad_base64_key;
  } else if (!valid_key(out.key)) {
    return MetaError::bad_format;
  }
  if (out.opaque.size() > kMaxOpaqueBytes) return MetaError::opaque_too_long;
  for (const char c : out.opaque) {
    if (is_control_byte(c)) return MetaError::bad_format;
  }
  return MetaError::none;
}

}  // namespace

std::optional<MetaCommandKind> meta_command_kind(std::string_view name) noexcept {
  for (const auto& command : kMetaCommands) {
    if (service::iequals_ascii(name, command.name)) return command.kind;
  }
  return std::nullopt;
}

std::string_view meta_command_name(MetaCommandKind kind) noexcept {
  for (const auto& command : kMetaCommands) {
    if (command.kind == kind) return command.name;
  }
  return "m?";
}

MetaError parse_meta_line(std::string_view line, MetaRequest& out) noexcept {
  out = MetaRequest{};
  TextTokenizer tokens(line);
  std::string_view name;
  if (!tokens.next(name)) return MetaError::bad_format;
  const auto kind = meta_command_kind(name);
  if (!kind) return MetaError::bad_format;
  out.kind = *kind;
  // mn takes nothing and, as in memcached, ignores whatever follows.
  if (out.kind == MetaCommandKind::noop) return MetaError::none;
  if (!tokens.next(out.key)) return MetaError::bad_format;

  switch (out.kind) {
    case MetaCommandKind::get:
      if (out.key.size() > kMaxKeyBytes) return MetaError::bad_format;
      return parse_get_flags(tokens, out);
    case MetaCommandKind::set: {
      // Only the block's length matters: it is skipped whatever the key or
      // flags, so a refused ms never desynchronises the stream.
      std::string_view length;
      if (!tokens.next(length)) return MetaError::bad_format;
      const auto [end, ec] =
          std::from_chars(length.data(), length.data() + length.size(), out.data_bytes);
      if (ec != std::errc() || end != length.data() + length.size()) {
        out.data_bytes = 0;
        return MetaError::bad_format;
      }
      return MetaError::none;
    }
    case MetaCommandKind::noop:
    case MetaCommandKind::remove:
    case MetaCommandKind::arithmetic:
    case MetaCommandKind::debug:
      return MetaError::none;
  }
  return MetaError::none;
}

std::string render_meta_request(const MetaRequest& request) {
  std::string line(meta_command_name(request.kind));
  if (request.kind == MetaCommandKind::noop) return line;
  line += ' ';
  line += request.key;
  if (request.kind == MetaCommandKind::set) {
    line += ' ';
    line += std::to_string(request.data_bytes);
  }
  if (request.kind != MetaCommandKind::get) return line;
  for (const char letter : request.flag_order()) {
    line += ' ';
    line += letter;
    if (letter == 'O') line += request.opaque;
  }
  return line;
}

}  // namespace katsubushi::proto
