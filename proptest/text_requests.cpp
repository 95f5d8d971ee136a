#include "id/issue_waiting.hpp"
#include "text_requests.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

#include "proto/meta_base64.hpp"
#include "testing/wire.hpp"

namespace katsubushi::proptest {

using proto::TextCommandKind;

namespace {

constexpr std::array<std::string_view, 18> kCommandNames = {
    "get", "gets", "stats", "version", "verbosity", "quit", "set", "add", "replace",
    "append", "prepend", "cas", "mg", "mn", "ms", "md", "ma", "me"};

// What go-katsubushi (Go's strings.Fields) splits on; '\n' ends the line.
constexpr std::string_view kSeparators = " \t\v\f\r";
bool is_separator(char c) { return kSeparators.find(c) != std::string_view::npos; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_command_name(std::string_view token) {
  for (const std::string_view name : kCommandNames) {
    if (token.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < token.size() && same; ++i) {
      char c = token[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == name[i];
    }
    if (same) return true;
  }
  return false;
}

char to_char(int byte) { return static_cast<char>(static_cast<unsigned char>(byte)); }

// Bytes memcached allows in a key: printable ASCII but space, and 0x80..0xff.
rc::Gen<char> key_byte() {
  return rc::gen::weightedOneOf<char>({
      {9, rc::gen::map(rc::gen::inRange(0x21, 0x7f), to_char)},
      {1, rc::gen::map(rc::gen::inRange(0x80, 0x100), to_char)},
  });
}

rc::Gen<std::string> key_of_length(std::size_t lo, std::size_t hi) {
  return rc::gen::mapcat(rc::gen::inRange(lo, hi), [](std::size_t n) {
    return rc::gen::container<std::string>(n, key_byte());
  });
}

rc::Gen<std::string> valid_key() {
  return rc::gen::weightedOneOf<std::string>({
      {8, key_of_length(1, 13)},
      {1, key_of_length(240, proto::kMaxKeyBytes + 1)},
      {1, key_of_length(proto::kMaxKeyBytes, proto::kMaxKeyBytes + 1)},
  });
}

// Over the limit, mostly by exactly one byte: the boundary is where a
// length check goes wrong.
rc::Gen<std::string> too_long_key() {
  return rc::gen::weightedOneOf<std::string>({
      {3, key_of_length(proto::kMaxKeyBytes + 1, proto::kMaxKeyBytes + 2)},
      {1, key_of_length(proto::kMaxKeyBytes + 2, 400)},
  });
}

// The command name with each letter's case drawn at random.
std::string random_case(std::string_view lower) {
  const auto upper = *rc::gen::container<std::vector<bool>>(lower.size(), rc::gen::arbitrary<bool>());
  std::string name(lower);
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (upper[i]) name[i] = static_cast<char>(name[i] - 'a' + 'A');
  }
  return name;
}

// A run of separators: mostly one space, sometimes any mix.
rc::Gen<std::string> separator_run() {
  return rc::gen::weightedOneOf<std::string>({
      {4, rc::gen::just(std::string(" "))},
      {1, rc::gen::just(std::string("  "))},
      {3, rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, 4), [](std::size_t n) {
         return rc::gen::container<std::string>(
             n, rc::gen::elementOf(std::string(kSeparators)));
       })},
  });
}

rc::Gen<std::string> maybe_separators() {
  return rc::gen::weightedOneOf<std::string>(
      {{4, rc::gen::just(std::string())}, {1, separator_run()}});
}

// Line layout drawn for every request: separators around and between its
// tokens, and its terminator.
void draw_layout(TextRequest& r) {
  r.gaps = *rc::gen::container<std::vector<std::string>>(separator_run());
  r.lead = *maybe_separators();
  r.trail = *maybe_separators();
  r.crlf = *rc::gen::arbitrary<bool>();
}

// Tokens a command ignores (version, quit, mn): key bytes, never a separator.
std::vector<std::string> ignored_tokens() {
  return *rc::gen::weightedOneOf<std::vector<std::string>>({
      {4, rc::gen::just(std::vector<std::string>())},
      {1, rc::gen::container<std::vector<std::string>>(
              *rc::gen::inRange<std::size_t>(1, 12), key_of_length(1, 5))},
  });
}

TextRequest get_request() {
  TextRequest r;
  const bool with_cas = *rc::gen::arbitrary<bool>();
  r.kind = with_cas ? TextCommandKind::gets : TextCommandKind::get;
  r.tokens.push_back(random_case(with_cas ? "gets" : "get"));
  const int shape = *rc::gen::weightedElement<int>({{12, 0}, {2, 1}, {1, 2}});
  if (shape == 2) {
    // More keys than one millisecond holds: the batch must span a wait. Short
    // made-up keys keep the line well under the line limit.
    const auto n = *rc::gen::inRange<std::size_t>(id::kSequencePerMs - 4, id::kSequencePerMs + 200);
    for (std::size_t i = 0; i < n; ++i) r.keys.push_back(std::to_string(i).insert(0, 1, 'k'));
  } else {
    const std::size_t most = shape == 0 ? 7 : 41;
    r.keys = *rc::gen::container<std::vector<std::string>>(
        *rc::gen::inRange<std::size_t>(1, most), valid_key());
  }
  r.tokens.insert(r.tokens.end(), r.keys.begin(), r.keys.end());
  return r;
}

TextRequest storage_request() {
  TextRequest r;
  r.kind = TextCommandKind::storage;
  const auto name = *rc::gen::element<std::string_view>("set", "add", "replace", "append",
                                                         "prepend", "cas");
  r.tokens.push_back(random_case(name));
  // A too-long key does not break the framing: the block is still skipped.
  r.tokens.push_back(*rc::gen::weightedOneOf<std::string>(
      {{9, valid_key()}, {1, too_long_key()}}));
  r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::uint32_t>()));
  r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::int32_t>()));
  r.data = *rc::gen::weightedOneOf<std::string>({
      {4, rc::gen::string<std::string>()},
      {2, rc::gen::container<std::string>(rc::gen::element('\r', '\n', 'x', ' ', '\0'))},
      {1, rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, 3000), [](std::size_t n) {
         return rc::gen::container<std::string>(n, rc::gen::map(rc::gen::inRange(0, 256), to_char));
       })},
  });
  r.tokens.push_back(std::to_string(r.data->size()));
  if (name == "cas") r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::uint64_t>()));
  r.noreply = *rc::gen::arbitrary<bool>();
  if (r.noreply) r.tokens.push_back("noreply");
  return r;
}

TextRequest stats_request() {
  TextRequest r;
  r.kind = TextCommandKind::stats;
  r.tokens.push_back(random_case("stats"));
  const auto group = *rc::gen::element<std::string_view>(
      "", "settings", "items", "slabs", "sizes", "conns", "reset", "detail", "cachedump",
      "bogus");
  if (group.empty()) return r;
  r.stats_group = random_case(group);
  r.tokens.push_back(r.stats_group);
  if (group == "detail") {
    r.stats_args.push_back(
        random_case(*rc::gen::element<std::string_view>("on", "off", "dump", "of")));
  } else if (group == "cachedump") {
    r.stats_args.push_back(std::to_string(*rc::gen::inRange(0, 70)));
    r.stats_args.push_back(std::to_string(*rc::gen::inRange(0, 100)));
  } else {
    // memcached ignores what follows a group that takes no arguments.
    const auto extra = ignored_tokens();
    for (std::size_t i = 0; i < extra.size() && i < proto::kMaxStatsArgs; ++i) {
      r.stats_args.push_back(extra[i]);
    }
    r.tokens.insert(r.tokens.end(), extra.begin(), extra.end());
    return r;
  }
  r.tokens.insert(r.tokens.end(), r.stats_args.begin(), r.stats_args.end());
  return r;
}

TextRequest other_request() {
  TextRequest r;
  switch (*rc::gen::inRange(0, 3)) {
    case 0:
      r = stats_request();
      break;
    case 1: {
      r.kind = TextCommandKind::version;
      r.tokens.push_back(random_case("version"));
      const auto extra = ignored_tokens();  // go-katsubushi ignores them
      r.tokens.insert(r.tokens.end(), extra.begin(), extra.end());
      break;
    }
    default:
      r.kind = TextCommandKind::verbosity;
      r.tokens.push_back(random_case("verbosity"));
      r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::uint32_t>()));
      r.noreply = *rc::gen::arbitrary<bool>();
      if (r.noreply) r.tokens.push_back("noreply");
      break;
  }
  return r;
}

// Deals `letters` in a random order.
std::string shuffled(std::string letters) {
  for (std::size_t i = letters.size(); i > 1; --i) {
    const auto j = *rc::gen::inRange<std::size_t>(0, i);
    std::swap(letters[i - 1], letters[j]);
  }
  return letters;
}

// The tokens of mg's flags in `r.meta_flags`'s order, with P/L hints mixed in.
void add_mg_flag_tokens(TextRequest& r) {
  std::vector<std::string> flags;
  for (const char letter : r.meta_flags) {
    flags.push_back(letter == 'O' ? "O" + r.opaque : std::string(1, letter));
  }
  if (*rc::gen::inRange(0, 4) == 0) {
    const auto at = *rc::gen::inRange<std::size_t>(0, flags.size() + 1);
    flags.insert(flags.begin() + static_cast<std::ptrdiff_t>(at), "L" + *key_of_length(0, 8));
  }
  r.tokens.insert(r.tokens.end(), flags.begin(), flags.end());
}

TextRequest meta_get_request() {
  TextRequest r;
  r.kind = TextCommandKind::meta;
  r.meta = proto::MetaCommandKind::get;
  r.tokens.push_back(random_case("mg"));
  std::string letters;
  for (const char letter : std::string_view("kvcfstqO")) {
    if (*rc::gen::arbitrary<bool>()) letters += letter;
  }
  if (*rc::gen::inRange(0, 4) == 0) {
    // A binary key, sent in base64.
    const auto bytes = *rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, 100), [](std::size_t n) {
      return rc::gen::container<std::string>(n, rc::gen::map(rc::gen::inRange(0, 256), to_char));
    });
    r.meta_key = proto::base64_encode(bytes);
    letters += 'b';
  } else {
    r.meta_key = *valid_key();
  }
  r.tokens.push_back(r.meta_key);
  r.meta_flags = shuffled(letters);
  if (r.meta_flags.find('O') != std::string::npos) {
    r.opaque = *key_of_length(0, proto::kMaxOpaqueBytes + 1);
  }
  add_mg_flag_tokens(r);
  return r;
}

TextRequest meta_request() {
  TextRequest r;
  switch (*rc::gen::weightedElement<int>({{6, 0}, {2, 1}, {1, 2}, {1, 3}})) {
    case 0:
      return meta_get_request();
    case 1: {
      r.kind = TextCommandKind::meta;
      r.meta = proto::MetaCommandKind::noop;
      r.tokens.push_back(random_case("mn"));
      const auto extra = ignored_tokens();  // memcached ignores them
      r.tokens.insert(r.tokens.end(), extra.begin(), extra.end());
      return r;
    }
    case 2:
      // ms: refused once its block has been skipped, whatever its flags.
      r.kind = TextCommandKind::meta;
      r.meta = proto::MetaCommandKind::set;
      r.tokens.push_back(random_case("ms"));
      r.meta_key = *valid_key();
      r.tokens.push_back(r.meta_key);
      r.data = *rc::gen::weightedOneOf<std::string>({
          {2, rc::gen::string<std::string>()},
          {1, rc::gen::container<std::string>(rc::gen::element('\r', '\n', 'x', ' '))},
      });
      r.tokens.push_back(std::to_string(r.data->size()));
      if (*rc::gen::arbitrary<bool>()) r.tokens.emplace_back("q");
      if (*rc::gen::arbitrary<bool>()) r.tokens.emplace_back("T0");
      return r;
    default:
      r.kind = TextCommandKind::meta;
      r.meta = *rc::gen::element(proto::MetaCommandKind::remove,
                                 proto::MetaCommandKind::arithmetic, proto::MetaCommandKind::debug);
      r.tokens.push_back(random_case(proto::meta_command_name(r.meta)));
      r.meta_key = *valid_key();
      r.tokens.push_back(r.meta_key);
      if (*rc::gen::arbitrary<bool>()) r.tokens.emplace_back("q");
      return r;
  }
}

// An mg the parser must refuse, and why.
TextRequest bad_meta_get() {
  TextRequest r;
  r.kind = TextCommandKind::meta;
  r.meta = proto::MetaCommandKind::get;
  r.tokens.push_back(random_case("mg"));
  r.meta_key = *valid_key();
  switch (*rc::gen::inRange(0, 6)) {
    case 0: {
      // A letter mg does not take (flags are case-sensitive), alone or with more.
      r.meta_error = proto::MetaError::invalid_flag;
      r.tokens.push_back(r.meta_key);
      const char letter = *rc::gen::elementOf(std::string("aABCdDeEFgGhHiIjJKlmMnNopQrRSTuUVwWxXyYzZ09!"));
      r.tokens.push_back(letter + *key_of_length(0, 3));
      break;
    }
    case 1: {
      r.meta_error = proto::MetaError::duplicate_flag;
      r.tokens.push_back(r.meta_key);
      const char letter = *rc::gen::elementOf(std::string("kvcfstq"));
      r.tokens.emplace_back(1, letter);
      r.tokens.emplace_back(1, letter);
      break;
    }
    case 2:
      r.meta_error = proto::MetaError::opaque_too_long;
      r.tokens.push_back(r.meta_key);
      r.tokens.push_back("O" + *key_of_length(proto::kMaxOpaqueBytes + 1, 60));
      break;
    case 3:
      // Not canonical base64: a length that is not a multiple of 4.
      r.meta_error = proto::MetaError::bad_base64_key;
      r.meta_key = proto::base64_encode(*key_of_length(1, 50)) + "=";
      r.tokens.push_back(r.meta_key);
      r.tokens.emplace_back("b");
      break;
    case 4:
      r.meta_error = proto::MetaError::bad_format;
      r.meta_key = *too_long_key();
      r.tokens.push_back(r.meta_key);
      r.tokens.emplace_back("v");
      break;
    default:
      r.meta_error = proto::MetaError::bad_format;  // no key at all
      r.meta_key.clear();
      break;
  }
  return r;
}

// A first line `GET x HTTP/1.1` would make the session answer in HTTP.
bool looks_like_http(const TextRequest& r) {
  return r.keys.size() == 2 && r.keys[1].size() == 8 && r.keys[1].starts_with("HTTP/1.");
}

std::string_view first_token(std::string_view line) {
  std::size_t first = 0;
  while (first < line.size() && is_separator(line[first])) ++first;
  std::size_t end = first;
  while (end < line.size() && !is_separator(line[end])) ++end;
  return line.substr(first, end - first);
}

TextRequest random_line() {
  const auto bytes = rc::gen::weightedOneOf<std::string>({
      {2, rc::gen::string<std::string>()},
      {1, rc::gen::container<std::string>(rc::gen::map(rc::gen::inRange(0, 256), to_char))},
  });
  const auto as_line = rc::gen::map(bytes, [](std::string line) {
    std::erase(line, '\n');
    // The session strips one '\r' before "\n"; keep the line as parsed.
    while (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  });
  TextRequest r;
  r.raw = *rc::gen::suchThat(
      as_line, [](const std::string& line) { return !is_command_name(first_token(line)); });
  r.kind = first_token(r.raw).empty() ? TextCommandKind::empty : TextCommandKind::unknown;
  return r;
}

// A get whose keys are all fine except one, which is too long or holds a
// control byte.
TextRequest bad_key_get() {
  TextRequest r;
  r.kind = TextCommandKind::bad_format;
  r.tokens.push_back(random_case(*rc::gen::element<std::string_view>("get", "gets")));
  auto keys = *rc::gen::container<std::vector<std::string>>(
      *rc::gen::inRange<std::size_t>(0, 5), valid_key());
  std::string bad;
  if (*rc::gen::arbitrary<bool>()) {
    bad = *too_long_key();
  } else {
    // Never '\n' (ends the line) nor a separator (splits tokens).
    const int ctrl = *rc::gen::weightedOneOf<int>(
        {{8, rc::gen::suchThat(rc::gen::inRange(0, 0x20),
                               [](int c) { return c != '\n' && !is_separator(to_char(c)); })},
         {1, rc::gen::just(0x7f)}});
    bad = *key_of_length(0, 6) + to_char(ctrl) + *key_of_length(1, 6);
  }
  const auto at = *rc::gen::inRange<std::size_t>(0, keys.size() + 1);
  keys.insert(keys.begin() + static_cast<std::ptrdiff_t>(at), std::move(bad));
  r.keys = keys;
  r.tokens.insert(r.tokens.end(), keys.begin(), keys.end());
  return r;
}

// A storage command whose numbers do not parse: CLIENT_ERROR, and since the
// block's size is unknown nothing after the line may be taken as a block.
TextRequest bad_storage_line() {
  TextRequest r;
  r.kind = TextCommandKind::bad_format;
  const auto name = *rc::gen::element<std::string_view>("set", "add", "replace", "append",
                                                         "prepend", "cas");
  r.tokens.push_back(random_case(name));
  r.tokens.push_back(*valid_key());
  r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::uint32_t>()));
  r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::int32_t>()));
  r.tokens.push_back(std::to_string(*rc::gen::inRange(0, 100)));
  if (name == "cas") r.tokens.push_back(std::to_string(*rc::gen::arbitrary<std::uint64_t>()));
  // Break one number: flags, exptime, bytes or cas.
  const auto field = *rc::gen::inRange<std::size_t>(2, r.tokens.size());
  r.tokens[field] = field == 3 ? *rc::gen::element<std::string>("x", "1x", "--1", "5-", "1.5")
                               : *rc::gen::element<std::string>("x", "1x", "-1", "0x10", "1.5",
                                                                "99999999999999999999999");
  return r;
}

}  // namespace

std::string_view kind_name(TextCommandKind kind) {
  switch (kind) {
    case TextCommandKind::empty: return "empty";
    case TextCommandKind::unknown: return "unknown";
    case TextCommandKind::bad_format: return "bad_format";
    case TextCommandKind::get: return "get";
    case TextCommandKind::gets: return "gets";
    case TextCommandKind::stats: return "stats";
    case TextCommandKind::version: return "version";
    case TextCommandKind::verbosity: return "verbosity";
    case TextCommandKind::quit: return "quit";
    case TextCommandKind::storage: return "storage";
    case TextCommandKind::meta: return "meta";
  }
  return "?";
}

std::string TextRequest::line() const {
  if (tokens.empty()) return raw;
  std::string s = lead + tokens.front();
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    s += gaps.empty() ? std::string(" ") : gaps[(i - 1) % gaps.size()];
    s += tokens[i];
  }
  return s + trail;
}

void showValue(const TextRequest& r, std::ostream& os) {
  std::string line = r.line();
  const std::size_t full = line.size();
  if (full > 120) line.resize(120);
  os << '"' << testing::escaped(line);
  if (full > 120) os << "...(" << full << " bytes)";
  os << (r.crlf ? "\\r\\n\"" : "\\n\"");
  if (r.data) os << " + " << r.data->size() << "-byte block";
}

void render(const TextRequest& r, std::string& out) {
  out += r.line();
  out += r.crlf ? "\r\n" : "\n";
  if (r.data) {
    out += *r.data;
    out += "\r\n";
  }
}

std::string render_all(const std::vector<TextRequest>& requests) {
  std::string out;
  for (const auto& r : requests) render(r, out);
  return out;
}

rc::Gen<TextRequest> valid_request() {
  return rc::gen::exec([] {
    TextRequest r;
    switch (*rc::gen::weightedElement<int>({{5, 0}, {2, 1}, {2, 2}, {3, 3}})) {
      case 0:
        r = get_request();
        break;
      case 1:
        r = storage_request();
        break;
      case 2:
        r = other_request();
        break;
      default:
        r = meta_request();
        break;
    }
    draw_layout(r);
    return r;
  });
}

rc::Gen<std::vector<TextRequest>> valid_conversation() {
  return rc::gen::exec([] {
    auto requests = *rc::gen::suchThat(
        rc::gen::container<std::vector<TextRequest>>(valid_request()),
        [](const std::vector<TextRequest>& v) { return v.empty() || !looks_like_http(v.front()); });
    if (*rc::gen::arbitrary<bool>()) {
      TextRequest quit;
      quit.kind = TextCommandKind::quit;
      quit.tokens.push_back(random_case("quit"));
      const auto extra = ignored_tokens();  // go-katsubushi ignores them
      quit.tokens.insert(quit.tokens.end(), extra.begin(), extra.end());
      draw_layout(quit);
      requests.push_back(std::move(quit));
    }
    return requests;
  });
}

rc::Gen<TextRequest> invalid_request() {
  return rc::gen::exec([] {
    const int shape = *rc::gen::weightedElement<int>({{2, 0}, {1, 1}, {2, 2}, {2, 3}});
    TextRequest r = shape == 0   ? bad_key_get()
                    : shape == 1 ? bad_storage_line()
                    : shape == 2 ? random_line()
                                 : bad_meta_get();
    draw_layout(r);
    return r;
  });
}

std::string error_reply(const TextRequest& r) {
  switch (r.kind) {
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
      return "ERROR\r\n";
    case TextCommandKind::bad_format:
      return "CLIENT_ERROR bad command line format\r\n";
    default:
      break;
  }
  switch (r.meta_error) {
    case proto::MetaError::none:
      break;
    case proto::MetaError::bad_format:
      return "CLIENT_ERROR bad command line format\r\n";
    case proto::MetaError::invalid_flag:
      return "CLIENT_ERROR invalid flag\r\n";
    case proto::MetaError::duplicate_flag:
      return "CLIENT_ERROR duplicate flag\r\n";
    case proto::MetaError::opaque_too_long:
      return "CLIENT_ERROR opaque token too long\r\n";
    case proto::MetaError::bad_base64_key:
      return "CLIENT_ERROR error decoding key\r\n";
  }
  return "(not an invalid request)";
}

std::size_t ids_asked(const TextRequest& r) {
  if (r.kind == TextCommandKind::get || r.kind == TextCommandKind::gets) return r.keys.size();
  if (r.kind == TextCommandKind::meta && r.meta == proto::MetaCommandKind::get &&
      r.meta_error == proto::MetaError::none) {
    return 1;
  }
  return 0;
}

bool resets_counters(const TextRequest& r) {
  return r.kind == TextCommandKind::stats && lower(r.stats_group) == "reset";
}

namespace {

void append_stats_reply(const TextRequest& r, katsubushi::service::StatsSource& stats, std::string& out) {
  const std::string group = lower(r.stats_group);
  const std::string arg0 = r.stats_args.empty() ? "" : lower(r.stats_args[0]);
  if (group.empty()) {
    out += testing::stats_reply(stats.general_stats());
  } else if (group == "settings") {
    out += testing::stats_reply(stats.settings_stats());
  } else if (group == "items" || group == "conns") {
    out += "END\r\n";
  } else if (group == "slabs") {
    out += "STAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n";
  } else if (group == "sizes") {
    out += "STAT sizes_status disabled\r\nEND\r\n";
  } else if (group == "reset") {
    out += "RESET\r\n";
  } else if (group == "detail") {
    out += arg0 == "on" || arg0 == "off" ? "OK\r\n"
           : arg0 == "dump"              ? "END\r\n"
                                         : "CLIENT_ERROR usage: stats detail on|off|dump\r\n";
  } else if (group == "cachedump") {
    // The generator draws ids 0..69: memcached has 64 slab classes.
    out += std::stoi(r.stats_args.at(0)) < 64 ? "END\r\n" : "CLIENT_ERROR Illegal slab id\r\n";
  } else {
    out += "ERROR\r\n";
  }
}

// VA/HD with mg's return flags, in the order the request gave them.
void append_mg_reply(const TextRequest& r, std::uint64_t id, std::string& out) {
  const std::string digits = std::to_string(id);
  const bool value = r.meta_flags.find('v') != std::string::npos;
  out += value ? "VA " + std::to_string(digits.size()) : std::string("HD");
  for (const char letter : r.meta_flags) {
    switch (letter) {
      case 'k':
        out += " k" + r.meta_key;
        if (r.meta_flags.find('b') != std::string::npos) out += " b";
        break;
      case 'O':
        out += " O" + r.opaque;
        break;
      case 'c':
        out += " c" + digits;
        break;
      case 'f':
        out += " f0";
        break;
      case 's':
        out += " s" + std::to_string(digits.size());
        break;
      case 't':
        out += " t-1";
        break;
      default:
        break;
    }
  }
  out += "\r\n";
  if (value) out += digits + "\r\n";
}

}  // namespace

void append_expected_reply(const TextRequest& r, id::IdGenerator& twin,
                           katsubushi::service::StatsSource& stats, std::string& out) {
  switch (r.kind) {
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
    case TextCommandKind::bad_format:
      out += error_reply(r);
      return;
    case TextCommandKind::get:
    case TextCommandKind::gets: {
      std::vector<std::uint64_t> ids(r.keys.size());
      const auto got = katsubushi::id::issue_waiting(twin, ids);
      RC_ASSERT(!got.error);
      for (std::size_t i = 0; i < ids.size(); ++i) {
        out += testing::value_reply(r.keys[i], ids[i], r.kind == TextCommandKind::gets);
      }
      out += "END\r\n";
      return;
    }
    case TextCommandKind::stats:
      append_stats_reply(r, stats, out);
      return;
    case TextCommandKind::version:
      out.append("VERSION ").append(kPropVersion).append("\r\n");
      return;
    case TextCommandKind::verbosity:
      if (!r.noreply) out += "OK\r\n";
      return;
    case TextCommandKind::quit:
      return;
    case TextCommandKind::storage:
      if (!r.noreply) out += "ERROR\r\n";
      return;
    case TextCommandKind::meta:
      break;
  }
  if (r.meta_error != proto::MetaError::none) {
    out += error_reply(r);
    return;
  }
  switch (r.meta) {
    case proto::MetaCommandKind::get: {
      std::uint64_t id = 0;
      const auto got = katsubushi::id::issue_waiting(twin, {&id, 1});
      RC_ASSERT(!got.error);
      append_mg_reply(r, id, out);
      return;
    }
    case proto::MetaCommandKind::noop:
      out += "MN\r\n";
      return;
    case proto::MetaCommandKind::set:
    case proto::MetaCommandKind::remove:
    case proto::MetaCommandKind::arithmetic:
    case proto::MetaCommandKind::debug:
      out += "CLIENT_ERROR " + std::string(proto::meta_command_name(r.meta)) + " not supported\r\n";
      return;
  }
}

}  // namespace katsubushi::proptest
