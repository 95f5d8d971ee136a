#include "text_requests.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

#include "testing/wire.hpp"

namespace katsubushi::proptest {

using proto::TextCommandKind;

namespace {

constexpr std::array<std::string_view, 12> kCommandNames = {
    "get", "gets", "stats", "version", "verbosity", "quit",
    "set", "add", "replace", "append", "prepend", "cas"};

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

// Line layout drawn for every request: gaps between tokens and terminator.
void draw_layout(TextRequest& r) {
  r.gaps = *rc::gen::container<std::vector<int>>(rc::gen::inRange(1, 4));
  r.crlf = *rc::gen::arbitrary<bool>();
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

TextRequest other_request() {
  TextRequest r;
  switch (*rc::gen::inRange(0, 3)) {
    case 0:
      r.kind = TextCommandKind::stats;
      r.tokens.push_back(random_case("stats"));
      r.stats_group = *rc::gen::element<std::string>("", "settings", "items", "slabs");
      if (!r.stats_group.empty()) r.tokens.push_back(r.stats_group);
      break;
    case 1:
      r.kind = TextCommandKind::version;
      r.tokens.push_back(random_case("version"));
      break;
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

// A first line `GET x HTTP/1.1` would make the session answer in HTTP.
bool looks_like_http(const TextRequest& r) {
  return r.keys.size() == 2 && r.keys[1].size() == 8 && r.keys[1].starts_with("HTTP/1.");
}

std::string_view first_token(std::string_view line) {
  const std::size_t first = line.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  return line.substr(first, line.find(' ', first) - first);
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
    // Never '\n' (ends the line) nor 0x20 (splits tokens); a key byte after
    // the control byte keeps a '\r' from ending up last on the line.
    const int ctrl = *rc::gen::weightedOneOf<int>(
        {{8, rc::gen::distinctFrom(rc::gen::inRange(0, 0x20), int{'\n'})}, {1, rc::gen::just(0x7f)}});
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
  }
  return "?";
}

std::string TextRequest::line() const {
  if (tokens.empty()) return raw;
  std::string s = tokens.front();
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    s.append(gaps.empty() ? 1 : static_cast<std::size_t>(gaps[(i - 1) % gaps.size()]), ' ');
    s += tokens[i];
  }
  return s;
}

void showValue(const TextRequest& r, std::ostream& os) {
  std::string line = r.line();
  const std::size_t full = line.size();
  if (full > 120) line.resize(120);
  os << '"' << testkit::escaped(line);
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
    switch (*rc::gen::weightedElement<int>({{5, 0}, {2, 1}, {2, 2}})) {
      case 0:
        r = get_request();
        break;
      case 1:
        r = storage_request();
        break;
      default:
        r = other_request();
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
      draw_layout(quit);
      requests.push_back(std::move(quit));
    }
    return requests;
  });
}

rc::Gen<TextRequest> invalid_request() {
  return rc::gen::exec([] {
    const int shape = *rc::gen::weightedElement<int>({{2, 0}, {1, 1}, {2, 2}});
    TextRequest r = shape == 0 ? bad_key_get() : shape == 1 ? bad_storage_line() : random_line();
    draw_layout(r);
    return r;
  });
}

void append_expected_reply(const TextRequest& r, id::IdGenerator& twin,
                           proto::StatsSource& stats, std::string& out) {
  switch (r.kind) {
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
      out += "ERROR\r\n";
      return;
    case TextCommandKind::bad_format:
      out += "CLIENT_ERROR bad command line format\r\n";
      return;
    case TextCommandKind::get:
    case TextCommandKind::gets: {
      std::vector<std::uint64_t> ids(r.keys.size());
      const auto got = twin.next_batch(ids);
      RC_ASSERT(!got.error);
      for (std::size_t i = 0; i < ids.size(); ++i) {
        out += testkit::value_reply(r.keys[i], ids[i], r.kind == TextCommandKind::gets);
      }
      out += "END\r\n";
      return;
    }
    case TextCommandKind::stats:
      if (r.stats_group.empty()) {
        out += testkit::stats_reply(stats.general_stats());
      } else if (r.stats_group == "settings") {
        out += testkit::stats_reply(stats.settings_stats());
      } else {
        out += "ERROR\r\n";
      }
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
  }
}

}  // namespace katsubushi::proptest
