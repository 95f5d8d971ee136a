// parse_text_line on arbitrary bytes. Oracles: views stay inside the line;
// the kind agrees with an independent split of the line on go-katsubushi's
// separators (space, tab, \v, \f, \r); padding and the command name's case
// change nothing; a valid command rendered back to text parses to the same
// command.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/text_command.hpp"
#include "support.hpp"

namespace {

using katsubushi::fuzz::check;
using katsubushi::proto::parse_text_line;
using katsubushi::proto::split_keys;
using katsubushi::proto::TextCommand;
using katsubushi::proto::TextCommandKind;
using katsubushi::proto::kMaxStatsArgs;
using katsubushi::proto::valid_key;

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (c != lower[i]) return false;
  }
  return true;
}

constexpr std::string_view kSeparators = " \t\v\f\r";

bool is_separator(char c) { return kSeparators.find(c) != std::string_view::npos; }

std::vector<std::string_view> split_on_separators(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_separator(s[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && !is_separator(s[i])) ++i;
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool inside(std::string_view view, std::string_view line) {
  if (view.empty()) return true;
  return view.data() >= line.data() && view.data() + view.size() <= line.data() + line.size();
}

bool same_command(const TextCommand& a, const TextCommand& b) {
  if (a.kind != b.kind || a.data_bytes != b.data_bytes || a.noreply != b.noreply ||
      a.stats_group != b.stats_group || a.stats_nargs != b.stats_nargs ||
      a.stats_args != b.stats_args || a.key_count != b.key_count) {
    return false;
  }
  return split_keys(a.keys) == split_keys(b.keys);
}

bool is_storage_name(std::string_view name) {
  for (std::string_view s : {"set", "add", "replace", "append", "prepend", "cas"}) {
    if (iequals(name, s)) return true;
  }
  return false;
}

bool is_meta_name(std::string_view name) {
  for (std::string_view s : {"mg", "mn", "ms", "md", "ma", "me"}) {
    if (iequals(name, s)) return true;
  }
  return false;
}

void check_against_tokens(std::string_view line, const TextCommand& cmd) {
  const auto tokens = split_on_separators(line);
  check((cmd.kind == TextCommandKind::empty) == tokens.empty());
  if (tokens.empty()) return;
  const std::string_view name = tokens.front();
  const std::size_t nargs = tokens.size() - 1;

  if (iequals(name, "get") || iequals(name, "gets")) {
    // Every token after the name is a key, in order, valid or not.
    const auto keys = split_keys(cmd.keys);
    check(cmd.key_count == nargs && keys.size() == nargs);
    bool all_valid = true;
    for (std::size_t i = 0; i < nargs; ++i) {
      check(keys[i] == tokens[i + 1]);
      all_valid = all_valid && valid_key(tokens[i + 1]);
    }
    const auto want = name.size() == 3 ? TextCommandKind::get : TextCommandKind::gets;
    if (nargs == 0) {
      check(cmd.kind == TextCommandKind::unknown);
    } else {
      check(cmd.kind == (all_valid ? want : TextCommandKind::bad_format));
    }
    return;
  }
  check(cmd.keys.empty() && cmd.key_count == 0);
  check((cmd.kind == TextCommandKind::meta) == is_meta_name(name));
  if (cmd.kind != TextCommandKind::stats) check(cmd.stats_group.empty() && cmd.stats_nargs == 0);

  switch (cmd.kind) {
    case TextCommandKind::get:
    case TextCommandKind::gets:
    case TextCommandKind::empty:
      check(false);
      break;
    case TextCommandKind::stats: {
      // The group, then up to kMaxStatsArgs of its arguments; more are ignored.
      check(iequals(name, "stats"));
      check(cmd.stats_group == (nargs >= 1 ? tokens[1] : std::string_view()));
      const std::size_t args = nargs >= 1 ? std::min(nargs - 1, kMaxStatsArgs) : 0;
      check(cmd.stats_nargs == args);
      for (std::size_t i = 0; i < args; ++i) check(cmd.stats_args[i] == tokens[2 + i]);
      break;
    }
    case TextCommandKind::version:
      check(iequals(name, "version"));  // arguments ignored, as go-katsubushi does
      break;
    case TextCommandKind::quit:
      check(iequals(name, "quit"));
      break;
    case TextCommandKind::meta:
      check(cmd.data_bytes == 0 && !cmd.noreply);
      break;
    case TextCommandKind::verbosity:
      check(iequals(name, "verbosity") && (nargs == 1 || nargs == 2));
      check(cmd.noreply == (nargs == 2 && tokens[2] == "noreply"));
      break;
    case TextCommandKind::storage: {
      // <name> <key> <flags> <exptime> <bytes> [<cas>] [noreply]
      check(is_storage_name(name));
      const std::size_t fixed = iequals(name, "cas") ? 5 : 4;
      check(nargs == fixed || nargs == fixed + 1);
      check(cmd.noreply == (nargs == fixed + 1));
      if (cmd.noreply) check(tokens.back() == "noreply");
      const std::string_view bytes = tokens[4];
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), n);
      check(ec == std::errc() && end == bytes.data() + bytes.size() && n == cmd.data_bytes);
      break;
    }
    case TextCommandKind::unknown:
    case TextCommandKind::bad_format:
      check(!cmd.noreply && cmd.data_bytes == 0 && cmd.stats_group.empty());
      break;
  }
}

// The canonical text of a command the parser accepted, or "" if it has none.
std::string render(const TextCommand& cmd) {
  std::string out;
  switch (cmd.kind) {
    case TextCommandKind::get:
    case TextCommandKind::gets:
      out = cmd.kind == TextCommandKind::get ? "get" : "gets";
      for (auto k : split_keys(cmd.keys)) {
        out += ' ';
        out += k;
      }
      break;
    case TextCommandKind::stats:
      out = "stats";
      if (!cmd.stats_group.empty()) {
        out += ' ';
        out += cmd.stats_group;
      }
      for (std::size_t i = 0; i < cmd.stats_nargs; ++i) {
        out += ' ';
        out += cmd.stats_args[i];
      }
      break;
    case TextCommandKind::version:
      out = "version";
      break;
    case TextCommandKind::quit:
      out = "quit";
      break;
    case TextCommandKind::verbosity:
      out = cmd.noreply ? "verbosity 1 noreply" : "verbosity 1";
      break;
    case TextCommandKind::storage:
      out = "set k 0 0 " + std::to_string(cmd.data_bytes);
      if (cmd.noreply) out += " noreply";
      break;
    case TextCommandKind::empty:
    case TextCommandKind::unknown:
    case TextCommandKind::bad_format:
    case TextCommandKind::meta:  // fuzz_meta renders meta requests
      break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  TextCommand cmd;
  parse_text_line(line, cmd);

  check(inside(cmd.keys, line));
  for (auto k : split_keys(cmd.keys)) check(!k.empty() && inside(k, line));
  check(inside(cmd.stats_group, line));
  for (std::size_t i = 0; i < cmd.stats_nargs; ++i) check(inside(cmd.stats_args[i], line));
  if (cmd.kind == TextCommandKind::get || cmd.kind == TextCommandKind::gets) {
    check(cmd.key_count > 0);
    for (auto k : split_keys(cmd.keys)) check(valid_key(k));
  }
  check_against_tokens(line, cmd);

  // Separators around the line, and the case of the command name, do not matter.
  const std::string padded = " \t" + std::string(line) + "\x0b\r ";
  TextCommand again;
  parse_text_line(padded, again);
  check(same_command(cmd, again));
  std::string shouted(line);
  const std::size_t name_start = shouted.find_first_not_of(kSeparators);
  for (std::size_t i = name_start; i < shouted.size() && !is_separator(shouted[i]); ++i) {
    if (shouted[i] >= 'a' && shouted[i] <= 'z') shouted[i] = static_cast<char>(shouted[i] - 32);
  }
  parse_text_line(shouted, again);
  check(same_command(cmd, again));

  // Render a valid command back to text: it must parse to the same command.
  const std::string text = render(cmd);
  if (!text.empty()) {
    parse_text_line(text, again);
    check(same_command(cmd, again));
  }

  // A reused command object is fully reset by the next parse.
  parse_text_line(line, again);
  check(same_command(cmd, again));
  return 0;
}
