// katsubushi-conform: runs the conformance cases (src/conform/cases, installed
// as share/katsubushi/conform) against a server and prints one line per case,
// then "conform: N passed, N failed, N skipped"; --junit writes the same
// verdict as JUnit XML. Exit status (kExit* below): 0 no case failed, 1 some
// did, 2 a usage error or cases not found / not parsing, 3 the target did not
// accept a connection.
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "conform/case_file.hpp"
#include "conform/case_location.hpp"
#include "conform/junit.hpp"
#include "conform/runner.hpp"
#include "conform/suite.hpp"
#include "conform/transport.hpp"

namespace {

using namespace katsubushi::conform;

constexpr int kExitPassed = 0;       // every case passed or was skipped
constexpr int kExitFailed = 1;       // a case failed
constexpr int kExitUsage = 2;        // a usage error; the cases not found or not parsing
constexpr int kExitUnreachable = 3;  // the target did not accept a connection

constexpr std::string_view kUsage =
    "usage: katsubushi-conform --target HOST:PORT [--protocol text|meta|binary|http]\n"
    "                          [--cases DIR] [--skip ID]... [--timeout MS] [--junit FILE]\n"
    "                          [--list] [--verbose]\n"
    "  --target HOST:PORT  the server under test ([ADDRESS]:PORT for IPv6)\n"
    "  --protocol P        only the cases of protocol P and what they require (default: all)\n"
    "  --cases DIR         the case directory (default: ../share/katsubushi/conform from the\n"
    "                      executable's directory, else conform-cases beside it)\n"
    "  --skip ID           report case ID (group/name; a trailing * matches a prefix) as SKIP\n"
    "  --timeout MS        how long one reply may take (default 3000)\n"
    "  --junit FILE        also write the verdict as JUnit XML to FILE\n"
    "  --list              print the case ids and exit\n"
    "  --verbose           print the bytes sent and received\n"
    "exit status: 0 no case failed (all passed or skipped), 1 a case failed,\n"
    "  2 a usage error or the cases not found or not parsing, 3 the target unreachable\n";

struct Options {
  std::string target;
  std::string protocol;
  std::string cases;  // empty: found beside the executable
  std::string junit;
  std::vector<std::string> skip;
  Millis timeout{3000};
  bool list = false;
  bool verbose = false;
};

int usage_error(std::string_view message) {
  std::cerr << "katsubushi-conform: " << message << "\n" << kUsage;
  return kExitUsage;
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
    } else if (name == "junit") {
      o.junit = std::string(value);
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
  if (o.cases.empty()) {
    std::string looked;
    const auto found = find_case_dir(own_executable(argc > 0 ? argv[0] : nullptr), looked);
    if (!found) {
      std::cerr << "katsubushi-conform: no cases in " << looked << "; name them with --cases\n";
      return kExitUsage;
    }
    o.cases = found->string();
  }

  std::vector<Case> all;
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  if (!load_cases(o.cases, all, errors) || !select_cases(all, o.protocol, o.skip, cases, errors)) {
    for (const auto& e : errors) std::cerr << "katsubushi-conform: " << e.describe() << "\n";
    return kExitUsage;
  }
  if (cases.empty()) {
    std::cerr << "katsubushi-conform: no cases" << (o.protocol.empty() ? "" : " for ") << o.protocol
              << " in " << o.cases << "\n";
    return kExitUsage;
  }

  if (o.list) {
    for (const Case& c : cases) {
      std::cout << c.id() << " (" << protocol_name(c.protocol) << ")";
      for (const std::string& need : c.needs) std::cout << " requires " << need;
      if (!c.skip.empty()) std::cout << " skip: " << c.skip;
      std::cout << "\n";
    }
    return kExitPassed;
  }

  // Nothing listening is not a verdict on the cases: say so once, not per case.
  if (connect_tcp(target, o.timeout, error) == nullptr) {
    std::cerr << "katsubushi-conform: the target is unreachable: " << error << "\n";
    return kExitUnreachable;
  }
  // Opened before the run, so a path that cannot be written is a usage error
  // found at once, not after every case has run.
  std::ofstream junit;
  if (!o.junit.empty()) {
    junit.open(o.junit, std::ios::trunc);
    if (!junit) return usage_error("--junit: cannot write " + o.junit);
  }
  RunOptions run;
  run.timeout = o.timeout;
  run.trace = o.verbose ? &std::cout : nullptr;
  const Connect connect = [&](std::string& why) { return connect_tcp(target, o.timeout, why); };
  const RunSummary summary = run_all(cases, connect, run, std::cout);
  if (junit.is_open()) {
    write_junit(summary, o.target, junit);
    junit.close();
    if (!junit) {
      std::cerr << "katsubushi-conform: writing " << o.junit << " failed\n";
      return kExitUsage;
    }
  }
  return summary.failed == 0 ? kExitPassed : kExitFailed;
}
