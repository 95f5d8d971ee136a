// The README's Flags and Limits tables against the code: a value changed on
// either side, a constant renamed or a flag added without a row fails here.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/duration.hpp"
#include "config/limits.hpp"
#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/timefmt.hpp"
#include "proto/text_command.hpp"
#include "proto/text_session.hpp"
#include "state/state_file.hpp"

namespace katsubushi::config {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
#ifdef KATSUBUSHI_SOURCE_DIR
  return KATSUBUSHI_SOURCE_DIR;
#else
  // This file is src/config/readme_test.cpp.
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
#endif
}

std::string read_readme() {
  std::ifstream in(source_dir() / "README.md", std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

using Row = std::vector<std::string>;

// The body rows of the first table after `heading`, cells trimmed.
std::vector<Row> table_after(const std::string& readme, const std::string& heading) {
  std::vector<Row> rows;
  const auto at = readme.find("\n" + heading + "\n");
  if (at == std::string::npos) return rows;
  std::istringstream in(readme.substr(at + heading.size() + 2));
  std::string line;
  bool in_table = false;
  int seen = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) break;
    if (!line.starts_with('|')) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    if (++seen <= 2) continue;  // header and separator
    Row row;
    std::string_view rest(line);
    rest.remove_prefix(1);
    while (!rest.empty()) {
      const auto bar = rest.find('|');
      row.emplace_back(trim(rest.substr(0, bar)));
      if (bar == std::string_view::npos) break;
      rest.remove_prefix(bar + 1);
    }
    rows.push_back(row);
  }
  return rows;
}

// `code` spans of a cell, in order.
std::vector<std::string> code_spans(std::string_view cell) {
  std::vector<std::string> spans;
  for (;;) {
    const auto open = cell.find('`');
    if (open == std::string_view::npos) break;
    const auto close = cell.find('`', open + 1);
    if (close == std::string_view::npos) break;
    spans.emplace_back(cell.substr(open + 1, close - open - 1));
    cell.remove_prefix(close + 1);
  }
  return spans;
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  for (;;) {
    const auto at = s.find(sep);
    parts.emplace_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + sep.size());
  }
  return parts;
}

// A default cell without its trailing note: "0 (must be set)" is "0",
// "(off)" is "".
std::string without_note(std::string_view cell) {
  if (cell.ends_with(')')) {
    const auto open = cell.rfind('(');
    if (open != std::string_view::npos) cell = trim(cell.substr(0, open));
  }
  return std::string(cell);
}

std::string upper_env_name(const std::string& flag) {
  std::string out;
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return out;
}

TEST(Readme, FlagsTableMatchesTheFlagsAndTheirDefaults) {
  const auto rows = table_after(read_readme(), "## Flags");
  ASSERT_FALSE(rows.empty()) << "no table under ## Flags in " << source_dir() / "README.md";
  std::map<std::string, FlagInfo> flags;
  for (auto& f : flag_infos()) flags[f.name] = f;

  std::set<std::string> documented;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 4u) << row[0];
    std::vector<std::string> names;
    for (const auto& span : code_spans(row[0])) {
      ASSERT_TRUE(span.starts_with('-')) << span;
      names.push_back(span.substr(1));
    }
    ASSERT_FALSE(names.empty()) << row[0];
    const std::vector<std::string> envs = code_spans(row[1]);
    std::vector<std::string> defaults = split(row[2], ", ");
    if (row[2].empty()) defaults.assign(names.size(), "");
    ASSERT_EQ(defaults.size(), names.size()) << row[0] << " | " << row[2];
    ASSERT_TRUE(envs.empty() || envs.size() == names.size()) << row[0] << " | " << row[1];
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto it = flags.find(names[i]);
      ASSERT_NE(it, flags.end()) << "README documents -" << names[i] << ", which is not a flag";
      EXPECT_TRUE(documented.insert(names[i]).second) << "-" << names[i] << " documented twice";
      EXPECT_EQ(without_note(defaults[i]), it->second.default_text)
          << "default of -" << names[i] << ": README says \"" << defaults[i] << '"';
      if (!envs.empty()) {
        EXPECT_EQ(envs[i], upper_env_name(names[i]));
      }
    }
  }
  for (const auto& [name, info] : flags) {
    EXPECT_TRUE(documented.contains(name)) << "-" << name << " has no row in the README";
  }
}

// The numbers of a value cell: sizes in bytes, times in ms, RFC 3339 times
// in Unix ms, plain numbers as they are; words without a number are skipped.
std::vector<std::int64_t> quantities(std::string_view cell) {
  std::vector<std::int64_t> out;
  std::size_t i = 0;
  auto is_digit = [&](std::size_t k) {
    return k < cell.size() && cell[k] >= '0' && cell[k] <= '9';
  };
  while (i < cell.size()) {
    if (!is_digit(i)) {
      ++i;
      continue;
    }
    // An RFC 3339 time runs to its 'Z'.
    if (i + 4 < cell.size() && cell[i + 4] == '-') {
      const auto z = cell.find('Z', i);
      const auto t = id::parse_rfc3339_ms(cell.substr(i, z - i + 1));
      EXPECT_TRUE(t.has_value()) << cell.substr(i);
      out.push_back(t.value_or(-1));
      i = z + 1;
      continue;
    }
    std::int64_t n = 0;
    while (is_digit(i)) n = n * 10 + (cell[i++] - '0');
    std::size_t u = i;
    while (u < cell.size() && cell[u] == ' ') ++u;
    std::size_t end = u;
    while (end < cell.size() &&
           ((cell[end] >= 'a' && cell[end] <= 'z') || (cell[end] >= 'A' && cell[end] <= 'Z'))) {
      ++end;
    }
    const std::string_view unit = cell.substr(u, end - u);
    if (unit == "KiB") {
      n *= 1024;
    } else if (unit == "MiB") {
      n *= 1024 * 1024;
    } else if (unit == "s") {
      n *= 1000;
    }
    if (unit == "KiB" || unit == "MiB" || unit == "s" || unit == "ms" || unit == "bytes") i = end;
    out.push_back(n);
  }
  return out;
}

template <typename Rep, typename Period>
std::int64_t ms(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::int64_t num(std::uint64_t n) { return static_cast<std::int64_t>(n); }

std::vector<std::int64_t> range(IntRange r) { return {num(r.min), num(r.max)}; }

// Every constant the Limits table may name, with its value(s) in table units.
const std::map<std::string, std::vector<std::int64_t>>& limit_constants() {
  static const std::map<std::string, std::vector<std::int64_t>> constants = {
      {"config::kDefaultMaxLineBytes", {num(kDefaultMaxLineBytes)}},
      {"config::kMaxLineBytesRange", range(kMaxLineBytesRange)},
      {"config::kDefaultMaxKeysPerGet", {num(kDefaultMaxKeysPerGet)}},
      {"config::kMaxKeysPerGetRange", range(kMaxKeysPerGetRange)},
      {"config::kDefaultMaxConnections", {num(kDefaultMaxConnections)}},
      {"config::kMaxConnectionsRange", range(kMaxConnectionsRange)},
      {"config::kThreadsRange", range(kThreadsRange)},
      {"config::kDefaultIdleTimeout", {ms(kDefaultIdleTimeout)}},
      {"config::kDefaultShutdownTimeout", {ms(kDefaultShutdownTimeout)}},
      {"proto::kMaxKeyBytes", {num(proto::kMaxKeyBytes)}},
      {"proto::TextSession::kIdsPerStep", {num(proto::TextSession::kIdsPerStep)}},
      {"config::kMaxOutputBytes", {num(kMaxOutputBytes)}},
      {"config::kMaxDataBlockBytes", {num(kMaxDataBlockBytes)}},
      {"config::kOwnReadBytes", {num(kOwnReadBytes)}},
      {"config::kThreadReadBufferBytes", {num(kThreadReadBufferBytes)}},
      {"config::kLingerTimeout", {ms(kLingerTimeout)}},
      {"config::kLingerMaxBytes", {num(kLingerMaxBytes)}},
      {"config::kAcceptBackoff", {ms(kAcceptBackoff)}},
      {"config::kKernelUnsentBytes", {num(kKernelUnsentBytes)}},
      {"config::kGrpcStopGrace", {ms(kGrpcStopGrace)}},
      {"config::kHttpMaxHeaderBytes", {num(kHttpMaxHeaderBytes)}},
      {"config::kHttpMaxBodyBytes", {num(kHttpMaxBodyBytes)}},
      {"config::kHttpMaxRequestsPerConnection", {num(kHttpMaxRequestsPerConnection)}},
      {"config::kHttpMaxIdsPerRequest", {num(kHttpMaxIdsPerRequest)}},
      {"config::kReserveAhead", {ms(kReserveAhead)}},
      {"config::kReserveRewriteWithin", {ms(kReserveRewriteWithin)}},
      {"config::kReservePoll", {ms(kReservePoll)}},
      {"config::kDefaultMaxClockWait", {ms(kDefaultMaxClockWait)}},
      {"state::kMaxStateFileBytes", {num(state::kMaxStateFileBytes)}},
      {"config::kDefaultLeaseTtl", {ms(kDefaultLeaseTtl)}},
      {"config::kMinLeaseTtl", {ms(kMinLeaseTtl)}},
      {"id::GeneratorOptions::max_backward_wait_ms", {id::GeneratorOptions{}.max_backward_wait_ms}},
      {"id::kEpochUnixMs", {id::kEpochUnixMs}},
      {"id::kMaxTimestamp", {id::kEpochUnixMs + id::kMaxTimestamp}},
  };
  return constants;
}

TEST(Readme, LimitsTableMatchesTheConstants) {
  const auto rows = table_after(read_readme(), "## Limits");
  ASSERT_FALSE(rows.empty()) << "no table under ## Limits in " << source_dir() / "README.md";
  std::set<std::string> cited;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 4u) << row[0];
    std::vector<std::int64_t> expected;
    for (const auto& name : code_spans(row[2])) {
      if (name.starts_with('-')) continue;  // the flag; its default is checked above
      const auto it = limit_constants().find(name);
      ASSERT_NE(it, limit_constants().end()) << "README names " << name << ", unknown to this test";
      expected.insert(expected.end(), it->second.begin(), it->second.end());
      cited.insert(name);
    }
    EXPECT_EQ(quantities(row[1]), expected) << row[0] << ": " << row[1];
  }
  for (const auto& [name, values] : limit_constants()) {
    EXPECT_TRUE(cited.contains(name)) << name << " has no row in the README's Limits table";
  }
}

TEST(Readme, FlagDefaultsComeFromTheLimits) {
  // The defaults -help and the Flags table show are the limits.hpp constants.
  std::map<std::string, std::string> shown;
  for (auto& f : flag_infos()) shown[f.name] = f.default_text;
  EXPECT_EQ(shown["max-line-bytes"], std::to_string(kDefaultMaxLineBytes));
  EXPECT_EQ(shown["max-connections"], std::to_string(kDefaultMaxConnections));
  EXPECT_EQ(shown["port"], std::to_string(kDefaultPort));
  EXPECT_EQ(shown["idle-timeout"], format_duration(kDefaultIdleTimeout));
  EXPECT_EQ(shown["shutdown-timeout"], format_duration(kDefaultShutdownTimeout));
  EXPECT_EQ(shown["max-worker-id"], std::to_string(id::kMaxWorkerId));
}

TEST(Readme, QuantitiesReadUnits) {
  EXPECT_EQ(quantities("64 KiB; flag range 512 bytes..16 MiB"),
            (std::vector<std::int64_t>{65536, 512, 16 << 20}));
  EXPECT_EQ(quantities("1 s / 1 MiB"), (std::vector<std::int64_t>{1000, 1 << 20}));
  EXPECT_EQ(quantities("100 ms"), (std::vector<std::int64_t>{100}));
  EXPECT_EQ(quantities("number of cores; flag range 1..1024"),
            (std::vector<std::int64_t>{1, 1024}));
  EXPECT_EQ(quantities("2015-01-01T00:00:00.001Z"),
            (std::vector<std::int64_t>{id::kEpochUnixMs + 1}));
}

}  // namespace
}  // namespace katsubushi::config
