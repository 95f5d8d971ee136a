// Durations and the flag parser on arbitrary text.
// Oracles: a parsed duration is non-negative and survives format -> parse;
// a leading '+' changes nothing; the flag parser either returns a Config or
// throws ConfigError, nothing else (any other exception, or a crash, is a bug).
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/duration.hpp"
#include "support.hpp"

namespace {

using katsubushi::fuzz::check;
using katsubushi::config::format_duration;
using katsubushi::config::parse_duration;

void check_round_trip(std::chrono::nanoseconds d) {
  const auto again = parse_duration(format_duration(d));
  check(again.has_value() && *again == d);
}

// Arguments are separated by NUL or newline, so one input can carry spaces
// inside a value ("-sock=/tmp/a b") as well as several flags.
std::vector<std::string> split_args(std::string_view s) {
  std::vector<std::string> args;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\0' || s[i] == '\n') {
      args.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return args;
}

void fuzz_flags(std::string_view text) {
  using namespace katsubushi::config;
  const EnvLookup no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  try {
    const Config c = parse_config(split_args(text), no_env);
    check(c.threads >= 1);
    check(c.worker_id <= 1023 && c.min_worker_id <= 1023 && c.max_worker_id <= 1023);
    check(c.idle_timeout.count() >= 0 && c.shutdown_timeout.count() >= 0);
    check(c.max_line_bytes >= 512);
    try {
      validate_config(c);
    } catch (const ConfigError& e) {
      check(std::strlen(e.what()) > 0);
    }
  } catch (const ConfigError& e) {
    check(std::strlen(e.what()) > 0);  // a user error carries a message
  }
  // Anything else escapes and libFuzzer reports it as a crash.
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto d = parse_duration(text);
  if (d) {
    check(d->count() >= 0);
    check_round_trip(*d);
    if (!text.starts_with('+')) {
      std::string with_plus = "+";
      with_plus.append(text);  // not "+" + string: g++ 12 warns falsely (-Wrestrict)
      const auto plus = parse_duration(with_plus);
      check(plus.has_value() && *plus == *d);
    }
  }

  // Any non-negative count of nanoseconds, not only parsed ones, round-trips.
  if (size >= 8) {
    std::uint64_t raw = 0;
    std::memcpy(&raw, data, sizeof raw);
    check_round_trip(std::chrono::nanoseconds(static_cast<std::int64_t>(raw >> 1)));
  }

  fuzz_flags(text);
  return 0;
}
