// katsubushi-conform: runs the conformance cases (src/conform/cases) against
// a server and prints one line per case, then "conform: N passed, N failed".
// Exit status: 0 when none failed, 1 when some did, 2 for a usage error or a
// case file that does not parse.
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "conform/case_file.hpp"
#include "conform/runner.hpp"
#include "conform/transport.hpp"

#ifndef KATSUBUSHI_CONFORM_CASES_DIR
#define KATSUBUSHI_CONFORM_CASES_DIR "src/conform/cases"
#endif

namespace {

using namespace katsubushi::conform;

constexpr std::string_view kUsage =
    "usage: katsubushi-conform --target HOST:PORT [--protocol text|meta|binary|http]\n"
    "                          [--cases DIR] [--skip ID]... [--timeout MS] [--list] [--verbose]\n"
    "  --target HOST:PORT  the server under test ([ADDRESS]:PORT for IPv6)\n"
    "  --protocol P        only the cases of protocol P (default: all)\n"
    "  --cases DIR         the case directory (default: " KATSUBUSHI_CONFORM_CASES_DIR
    ")\n"
    "  --skip ID           report case ID (group/name; a trailing * matches a prefix) as SKIP\n"
    "  --timeout MS        how long one reply may take (default 3000)\n"
    "  --list              print the case ids and exit\n"
    "  --verbose           print the bytes sent and received\n";

struct Options {
  std::string target;
  std::string protocol;
  std::string cases = KATSUBUSHI_CONFORM_CASES_DIR;
  std::vector<std::string> skip;
  Millis timeout{3000};
  bool list = false;
  bool verbose = false;
};

int usage_error(std::string_view message) {
  std::cerr << "katsubushi-conform: " << message << "\n" << kUsage;
  return 2;
}

bool matches_skip(const std::string& id, const std::vector<std::string>& skip) {
  for (const std::string& s : skip) {
    const bool prefix = !s.empty() && s.back() == '*';
    if (prefix ? id.starts_with(std::string_view(s).substr(0, s.size() - 1)) : id == s) {
      return true;
    }
  }
  return false;
}

// Flags as `--name value` or `--name=value`, one or two dashes.
bool parse_args(int argc, char** argv, Options& o, std::string& error) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.starts_with("--")) {
      arg.remove_prefix(2);
    } else if (arg.starts_with("-")) {
      arg.remove_prefix(1);
    } else {
      error = "unexpected argument " + std::string(arg);
      return false;
    }
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name == "list" || name == "verbose" || name == "help" || name == "h") {
      if (has_value) {
        error = "--" + std::string(name) + " takes no value";
        return false;
      }
      if (name == "list") o.list = true;
      if (name == "verbose") o.verbose = true;
      if (name == "help" || name == "h") {
        std::cout << kUsage;
        std::exit(0);  // NOLINT(concurrency-mt-unsafe): single-threaded here
      }
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        error = "--" + std::string(name) + " needs a value";
        return false;
      }
      value = args[++i];
    }
    if (name == "target") {
      o.target = std::string(value);
    } else if (name == "protocol") {
      o.protocol = std::string(value);
    } else if (name == "cases") {
      o.cases = std::string(value);
    } else if (name == "skip") {
      o.skip.emplace_back(value);
    } else if (name == "timeout") {
      long long ms = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || end != value.data() + value.size() || ms <= 0 || ms > 600000) {
        error = "--timeout takes milliseconds from 1 to 600000";
        return false;
      }
      o.timeout = Millis(ms);
    } else {
      error = "unknown flag --" + std::string(name);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string error;
  if (!parse_args(argc, argv, o, error)) return usage_error(error);
  Protocol only = Protocol::text;
  if (!o.protocol.empty() && !parse_protocol(o.protocol, only)) {
    return usage_error("unknown protocol " + o.protocol);
  }
  Target target;
  if (!o.list) {
    if (o.target.empty()) return usage_error("--target is required");
    if (!parse_target(o.target, target, error)) return usage_error("--target: " + error);
  }

  std::vector<Case> all;
  std::vector<CaseFileError> errors;
  if (!load_cases(o.cases, all, errors)) {
    for (const auto& e : errors) std::cerr << "katsubushi-conform: " << e.describe() << "\n";
    return 2;
  }
  std::vector<Case> cases;
  for (Case& c : all) {
    if (!o.protocol.empty() && c.protocol != only) continue;
    if (c.skip.empty() && matches_skip(c.id(), o.skip)) c.skip = "skipped by --skip";
    cases.push_back(std::move(c));
  }
  if (cases.empty()) {
    std::cerr << "katsubushi-conform: no cases" << (o.protocol.empty() ? "" : " for ") << o.protocol
              << " in " << o.cases << "\n";
    return 2;
  }

  if (o.list) {
    for (const Case& c : cases) {
      std::cout << c.id() << " (" << protocol_name(c.protocol) << ")";
      if (!c.skip.empty()) std::cout << " skip: " << c.skip;
      std::cout << "\n";
    }
    return 0;
  }

  RunOptions run;
  run.timeout = o.timeout;
  run.trace = o.verbose ? &std::cout : nullptr;
  const Connect connect = [&](std::string& why) { return connect_tcp(target, o.timeout, why); };
  const RunSummary summary = run_all(cases, connect, run, std::cout);
  return summary.failed == 0 ? 0 : 1;
}
