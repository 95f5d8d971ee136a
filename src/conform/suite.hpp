// A run of many cases: which cases (a protocol, what they require), in which
// order, and the verdict of each, where a case whose requirement failed is a
// SKIP that names what the target lacks rather than a second FAIL for it.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "conform/case_file.hpp"
#include "conform/runner.hpp"

namespace katsubushi::conform {

// The cases of `protocol` (all of them when it is empty) and, transitively,
// the cases they require, wherever those are; ordered so that a case comes
// after what it requires and otherwise in load order. Ids in `skip` (a
// trailing `*` matches a prefix) are marked SKIP. False with `errors` for a
// requirement that names no case or a cycle of requirements.
bool select_cases(const std::vector<Case>& all, std::string_view protocol,
                  const std::vector<std::string>& skip, std::vector<Case>& out,
                  std::vector<CaseFileError>& errors);

struct CaseReport {
  std::string group;
  std::string name;
  CaseResult result;
  std::chrono::duration<double> elapsed{};
  std::string id() const { return group + "/" + name; }
};

struct RunSummary {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  std::vector<CaseReport> cases;  // in the order they ran
};

// Runs every case in order, printing one line each ("PASS id", "FAIL id:
// reason", "SKIP id: reason") and then "conform: N passed, N failed, N
// skipped". A case runs only when every case it requires has run before it
// and passed; otherwise it is a SKIP naming the requirement.
RunSummary run_all(const std::vector<Case>& cases, const Connect& connect,
                   const RunOptions& options, std::ostream& out);

}  // namespace katsubushi::conform
