// Runs conformance cases: one fresh connection per case, its steps in order,
// every wait bounded, ids checked to increase within the case.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "conform/case_file.hpp"
#include "conform/transport.hpp"

namespace katsubushi::conform {

struct RunOptions {
  // How long one expectation (a reply, a close) may take to arrive.
  Millis timeout{3000};
  // Where --verbose writes the bytes each way; nullptr for none.
  std::ostream* trace = nullptr;
};

enum class Verdict { pass, fail, skip };

struct CaseResult {
  Verdict verdict = Verdict::fail;
  std::string reason;  // fail and skip
};

// Opens a new connection to the server under test, or nullptr with `error`.
using Connect = std::function<std::unique_ptr<Transport>(std::string& error)>;

CaseResult run_case(const Case& c, const Connect& connect, const RunOptions& options);

// What `keep` sends and expects, per protocol: text and meta `version`, binary
// a Noop, HTTP a GET /healthz (any status).
std::vector<Step> keep_probe(Protocol protocol);

std::string_view verdict_name(Verdict verdict);

}  // namespace katsubushi::conform
