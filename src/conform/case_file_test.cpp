#include "conform/case_file.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace katsubushi::conform {
namespace {

struct Parsed {
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  bool ok = false;
};

Parsed parse(std::string_view text, Protocol protocol = Protocol::text) {
  Parsed p;
  p.ok = parse_case_file(text, "t.case", "text", protocol, p.cases, p.errors);
  return p;
}

std::string first_error(std::string_view text) {
  const Parsed p = parse(text);
  EXPECT_FALSE(p.ok) << text;
  return p.errors.empty() ? std::string() : p.errors.front().describe();
}

TEST(ConformCaseFile, ParsesCasesAndSteps) {
  const Parsed p = parse(
      "# a comment\n"
      "\n"
      "case get-one\n"
      "  send get a\\r\\n\n"
      "  expect VALUE a 0 {id-len}\\r\\n{id}\\r\\nEND\\r\\n\n"
      "  keep\n"
      "case quit\r\n"
      "send quit\\r\\n\r\n"
      "close\r\n");
  ASSERT_TRUE(p.ok) << p.errors.front().describe();
  ASSERT_EQ(p.cases.size(), 2u);
  const Case& c = p.cases[0];
  EXPECT_EQ(c.id(), "text/get-one");
  EXPECT_EQ(c.line, 3);
  EXPECT_EQ(c.protocol, Protocol::text);
  ASSERT_EQ(c.steps.size(), 3u);
  EXPECT_EQ(c.steps[0].kind, Step::Kind::send);
  EXPECT_EQ(c.steps[0].bytes, "get a\r\n");
  EXPECT_EQ(c.steps[1].kind, Step::Kind::expect);
  EXPECT_EQ(c.steps[1].line, 5);
  EXPECT_EQ(c.steps[2].kind, Step::Kind::keep);
  EXPECT_EQ(p.cases[1].steps.back().kind, Step::Kind::close);
}

TEST(ConformCaseFile, ProtocolSkipAndBinaryAndHttpSteps) {
  const Parsed p = parse(
      "case b\n"
      "protocol binary\n"
      "send-bin op=00 key=a opaque=01\n"
      "send-hex 80 0a 0000 00 00 0000 00000000 00000000 0000000000000000\n"
      "expect-bin op=00 cas={cas} value={id}\n"
      "expect-bin-stats opaque=00000001 first=pid\n"
      "case h\n"
      "protocol http\n"
      "send GET /id HTTP/1.1\\r\\n\\r\\n\n"
      "expect-http 200\n"
      "header Content-Type: text/plain{any}\n"
      "body {id}{ws}\n"
      "body-json {\"id\":\"{id}\"}\n"
      "body-has # TYPE\n"
      "json-keys pid uptime\n"
      "case s\n"
      "skip cannot be provoked\n");
  ASSERT_TRUE(p.ok) << p.errors.front().describe();
  ASSERT_EQ(p.cases.size(), 3u);
  EXPECT_EQ(p.cases[0].protocol, Protocol::binary);
  EXPECT_EQ(p.cases[0].steps[0].bytes.size(), 25u);
  EXPECT_EQ(p.cases[0].steps[1].bytes.size(), 24u);
  EXPECT_EQ(p.cases[0].steps[3].kind, Step::Kind::expect_bin_stats);
  EXPECT_EQ(p.cases[1].protocol, Protocol::http);
  ASSERT_EQ(p.cases[1].steps.size(), 2u);
  EXPECT_EQ(p.cases[1].steps[1].http.status, 200);
  EXPECT_EQ(p.cases[1].steps[1].http.checks.size(), 5u);
  EXPECT_EQ(p.cases[2].skip, "cannot be provoked");
  EXPECT_TRUE(p.cases[2].steps.empty());
}

TEST(ConformCaseFile, ErrorsNameFileAndLine) {
  EXPECT_EQ(first_error("send x\n"), "t.case:1: `send` before any `case`");
  EXPECT_EQ(first_error("case a\nfrobnicate\n"), "t.case:2: unknown directive `frobnicate`");
  EXPECT_NE(first_error("case a\nsend get a \n").find("t.case:2: trailing blank"),
            std::string::npos);
  EXPECT_NE(first_error("case a\nsend x\nclose\nsend y\n").find("t.case:4:"), std::string::npos);
  EXPECT_NE(first_error("case a\nbody {id}\n").find("right after an `expect-http`"),
            std::string::npos);
  EXPECT_NE(first_error("case a\nexpect {nope}\n").find("unknown placeholder"), std::string::npos);
  EXPECT_NE(first_error("case a\nexpect-http 20\n").find("status code"), std::string::npos);
  EXPECT_NE(first_error("case a b\n").find("case name"), std::string::npos);
  EXPECT_NE(first_error("case empty\ncase next\nkeep\n").find("t.case:1: case empty has no steps"),
            std::string::npos);
  EXPECT_NE(first_error("case a\nsend x\nprotocol meta\n").find("before the steps"),
            std::string::npos);
}

TEST(ConformCaseFile, Requires) {
  const Parsed p = parse(
      "case a\n"
      "requires binary/noop\n"
      "requires text/version\n"
      "send x\n"
      "close\n");
  ASSERT_TRUE(p.ok) << p.errors.front().describe();
  EXPECT_EQ(p.cases[0].needs, (std::vector<std::string>{"binary/noop", "text/version"}));
  EXPECT_NE(first_error("case a\nrequires noop\n").find("t.case:2: `requires` takes a case id"),
            std::string::npos);
  EXPECT_NE(first_error("case a\nrequires nope/x\n").find("`requires` takes a case id"),
            std::string::npos);
  EXPECT_NE(first_error("case a\nrequires text/a\n").find("cannot require itself"),
            std::string::npos);
}

// The committed cases parse, every protocol has some, and ids are unique.
TEST(ConformCaseFile, CommittedCasesLoad) {
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  const bool ok =
      load_cases(std::string(KATSUBUSHI_SOURCE_DIR) + "/src/conform/cases", cases, errors);
  for (const auto& e : errors) ADD_FAILURE() << e.describe();
  ASSERT_TRUE(ok);
  std::map<std::string, int> per_group;
  for (const Case& c : cases) ++per_group[c.group];
  for (const char* group : {"text", "meta", "binary", "http"}) {
    EXPECT_GT(per_group[group], 10) << group;
  }
}

TEST(ConformCaseFile, MissingDirectoryIsAnError) {
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  EXPECT_FALSE(load_cases("/nonexistent/conform/cases", cases, errors));
  ASSERT_EQ(errors.size(), 1u);
}

}  // namespace
}  // namespace katsubushi::conform
