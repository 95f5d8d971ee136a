#include "conform/suite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "testing/conform_transports.hpp"

namespace katsubushi::conform {
namespace {

using testing::ScriptedTransport;
using testing::SessionTransport;

std::vector<Case> parse(std::string_view text, Protocol protocol = Protocol::text) {
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  EXPECT_TRUE(parse_case_file(text, "t.case", std::string(protocol_name(protocol)), protocol, cases,
                              errors))
      << (errors.empty() ? "" : errors.front().describe());
  return cases;
}

std::vector<std::string> ids(const std::vector<Case>& cases) {
  std::vector<std::string> out;
  for (const Case& c : cases) out.push_back(c.id());
  return out;
}

RunOptions quick() {
  RunOptions o;
  o.timeout = Millis(20);
  return o;
}

// "version" answers, anything else is ERROR.
testing::Answer version_only(std::string_view request) {
  return {request == "version\r\n" ? "VERSION 1\r\n" : "ERROR\r\n", false};
}

constexpr std::string_view kThreeCases =
    "case uses-version\n"
    "requires text/version\n"
    "send foo\\r\\n\nexpect ERROR\\r\\n\n"
    "case version\n"
    "send version\\r\\n\nexpect VERSION {any}\\r\\n\n"
    "case plain\n"
    "send bar\\r\\n\nexpect ERROR\\r\\n\n";

TEST(ConformSuite, RequiredCasesComeFirstAndAreBroughtIn) {
  std::vector<Case> all = parse(kThreeCases);
  const std::vector<Case> binary =
      parse("case b\nrequires text/plain\nsend x\nclose\n", Protocol::binary);
  all.insert(all.begin(), binary.begin(), binary.end());
  std::vector<Case> out;
  std::vector<CaseFileError> errors;
  ASSERT_TRUE(select_cases(all, "", {}, out, errors));
  EXPECT_EQ(ids(out), (std::vector<std::string>{"text/plain", "binary/b", "text/version",
                                                "text/uses-version"}));
  out.clear();
  // Only binary: the text case it requires runs too.
  ASSERT_TRUE(select_cases(all, "binary", {"text/p*"}, out, errors));
  EXPECT_EQ(ids(out), (std::vector<std::string>{"text/plain", "binary/b"}));
  EXPECT_EQ(out[0].skip, "skipped by --skip");
}

TEST(ConformSuite, UnknownAndCyclicRequirementsAreErrors) {
  std::vector<Case> out;
  std::vector<CaseFileError> errors;
  EXPECT_FALSE(
      select_cases(parse("case a\nrequires text/nope\nsend x\nclose\n"), "", {}, out, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].describe(), "t.case:1: text/a requires text/nope, which is no case");
  errors.clear();
  EXPECT_FALSE(select_cases(parse("case a\nrequires text/b\nsend x\nclose\n"
                                  "case b\nrequires text/a\nsend x\nclose\n"),
                            "", {}, out, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("a cycle of `requires`"), std::string::npos);
}

RunSummary run_selected(std::vector<Case> all, const Connect& connect, std::ostringstream& out,
                        const std::vector<std::string>& skip = {}) {
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  EXPECT_TRUE(select_cases(all, "", skip, cases, errors));
  return run_all(cases, connect, quick(), out);
}

TEST(ConformSuite, ACaseWhoseRequirementFailedIsSkippedNamingIt) {
  const Connect no_version = [](std::string&) {
    return std::make_unique<ScriptedTransport>([](std::string_view) {
      return testing::Answer{"ERROR\r\n", false};
    });
  };
  std::ostringstream out;
  const RunSummary s = run_selected(parse(kThreeCases), no_version, out);
  EXPECT_EQ(s.passed, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(out.str(),
            "FAIL text/version: line 7 (expect): at byte 0 of the reply: expected \"VERSION \", "
            "got \"ERROR\\r\\n\"\n"
            "SKIP text/uses-version: the target lacks text/version (that case failed)\n"
            "PASS text/plain\n"
            "conform: 1 passed, 1 failed, 1 skipped\n");
  ASSERT_EQ(s.cases.size(), 3u);
  EXPECT_EQ(s.cases[1].id(), "text/uses-version");
  EXPECT_EQ(s.cases[1].result.verdict, Verdict::skip);
}

TEST(ConformSuite, RequirementPassedOrSkipped) {
  const Connect server = [](std::string&) {
    return std::make_unique<ScriptedTransport>(version_only);
  };
  std::ostringstream out;
  RunSummary s = run_selected(parse(kThreeCases), server, out);
  EXPECT_EQ(s.passed, 3) << out.str();
  out.str("");
  s = run_selected(parse(kThreeCases), server, out, {"text/version"});
  EXPECT_EQ(s.skipped, 2);
  EXPECT_NE(out.str().find("SKIP text/uses-version: requires text/version, which was skipped\n"),
            std::string::npos)
      << out.str();
}

std::vector<Case> committed(std::string_view protocol) {
  std::vector<Case> all;
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  EXPECT_TRUE(load_cases(std::string(KATSUBUSHI_SOURCE_DIR) + "/src/conform/cases", all, errors));
  EXPECT_TRUE(select_cases(all, protocol, {}, cases, errors));
  for (const auto& e : errors) ADD_FAILURE() << e.describe();
  return cases;
}

std::set<std::string> ids_with(const RunSummary& s, Verdict verdict) {
  std::set<std::string> out;
  for (const CaseReport& r : s.cases) {
    if (r.result.verdict == verdict) out.insert(r.id());
  }
  return out;
}

// The committed binary cases against this project's own session: all pass.
TEST(ConformSuite, CommittedBinaryCasesPassOnTheSessionCore) {
  const Connect connect = [](std::string&) { return std::make_unique<SessionTransport>(); };
  std::ostringstream out;
  const RunSummary s = run_all(committed("binary"), connect, quick(), out);
  EXPECT_EQ(s.failed, 0) << out.str();
  EXPECT_GT(s.passed, 25) << out.str();
}

// The same session with Noop taken out (go-katsubushi has none): only
// binary/noop fails. Get, Version, Stat and the rest are served as before;
// the cases that lean on a Noop (their `keep`, a batch's end) are skipped,
// naming it, and the cases that end in a close still run and pass.
TEST(ConformSuite, ANoopLessServerFailsOnlyTheNoopCase) {
  const Connect connect = [](std::string&) {
    return std::make_unique<SessionTransport>(testing::without_binary_noops);
  };
  std::ostringstream out;
  const RunSummary s = run_all(committed("binary"), connect, quick(), out);
  EXPECT_EQ(ids_with(s, Verdict::fail), std::set<std::string>{"binary/noop"}) << out.str();
  const std::set<std::string> skipped = ids_with(s, Verdict::skip);
  for (const char* id : {"binary/get", "binary/version", "binary/stat", "binary/getkq-batch"}) {
    EXPECT_TRUE(skipped.contains(id)) << id << "\n" << out.str();
  }
  EXPECT_NE(out.str().find("SKIP binary/get: the target lacks binary/noop (that case failed)\n"),
            std::string::npos)
      << out.str();
  // Two requirements away (version-with-key requires binary/version), still the Noop.
  EXPECT_NE(out.str().find("SKIP binary/version-with-key: the target lacks binary/noop (that case "
                           "failed)\n"),
            std::string::npos)
      << out.str();
  const std::set<std::string> passed = ids_with(s, Verdict::pass);
  for (const char* id : {"binary/quit", "binary/get-then-quitq", "binary/get-with-extras"}) {
    EXPECT_TRUE(passed.contains(id)) << id << "\n" << out.str();
  }
}

// Every binary case that ends with `keep` (a Noop probe) or expects a Noop
// reply says it requires binary/noop, so a server without Noop fails that
// case alone.
TEST(ConformSuite, CommittedBinaryCasesThatUseNoopRequireIt) {
  for (const Case& c : committed("binary")) {
    if (c.id() == "binary/noop") continue;
    bool uses_noop = false;
    for (const Step& step : c.steps) {
      uses_noop = uses_noop || step.kind == Step::Kind::keep ||
                  (step.kind == Step::Kind::expect_bin && step.packet.opcode == 0x0a);
    }
    const bool requires_noop =
        std::find(c.needs.begin(), c.needs.end(), "binary/noop") != c.needs.end();
    EXPECT_TRUE(!uses_noop || requires_noop) << c.id() << " uses a Noop without `requires`";
  }
}

}  // namespace
}  // namespace katsubushi::conform
