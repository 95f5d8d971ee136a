#include "conform/junit.hpp"

#include <gtest/gtest.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>
#include <string>

namespace katsubushi::conform {
namespace {

namespace pt = boost::property_tree;

RunSummary three_groups() {
  RunSummary s;
  s.passed = 2;
  s.failed = 2;
  s.skipped = 1;
  const auto add = [&](std::string group, std::string name, Verdict v, std::string reason) {
    s.cases.push_back({std::move(group), std::move(name), {v, std::move(reason)}, {}});
  };
  add("binary", "noop", Verdict::fail, "line 5 (expect-bin): nothing more within 20 ms");
  add("binary", "get", Verdict::skip, "the target lacks binary/noop (that case failed)");
  add("binary", "quit", Verdict::pass, "");
  // A reason with markup and bytes XML cannot hold, as a reply may bring.
  add("text", "stats", Verdict::fail, "expected \"<END>\" & got 'x\x01\xff'");
  add("http", "id", Verdict::pass, "");
  return s;
}

pt::ptree parse(const std::string& xml) {
  std::istringstream in(xml);
  pt::ptree tree;
  read_xml(in, tree);  // throws on XML that is not well-formed
  return tree;
}

TEST(ConformJunit, WellFormedWithTheCounts) {
  std::ostringstream out;
  write_junit(three_groups(), "127.0.0.1:11212", out);
  pt::ptree tree;
  ASSERT_NO_THROW(tree = parse(out.str())) << out.str();
  const pt::ptree& root = tree.get_child("testsuites");
  EXPECT_EQ(root.get<int>("<xmlattr>.tests"), 5);
  EXPECT_EQ(root.get<int>("<xmlattr>.failures"), 2);
  EXPECT_EQ(root.get<int>("<xmlattr>.skipped"), 1);
  EXPECT_EQ(root.get<int>("<xmlattr>.errors"), 0);

  std::vector<std::string> suites;
  int testcases = 0;
  int failures = 0;
  int skipped = 0;
  for (const auto& [tag, suite] : root) {
    if (tag != "testsuite") continue;
    suites.push_back(suite.get<std::string>("<xmlattr>.name"));
    EXPECT_EQ(suite.get<std::string>("properties.property.<xmlattr>.value"), "127.0.0.1:11212");
    int in_suite = 0;
    int failed_in_suite = 0;
    for (const auto& [case_tag, c] : suite) {
      if (case_tag != "testcase") continue;
      ++in_suite;
      EXPECT_EQ(c.get<std::string>("<xmlattr>.classname"), "conform." + suites.back());
      if (c.get_child_optional("failure")) ++failed_in_suite;
      if (const auto skip = c.get_child_optional("skipped")) {
        ++skipped;
        EXPECT_EQ(skip->get<std::string>("<xmlattr>.message"),
                  "the target lacks binary/noop (that case failed)");
      }
    }
    EXPECT_EQ(suite.get<int>("<xmlattr>.tests"), in_suite);
    EXPECT_EQ(suite.get<int>("<xmlattr>.failures"), failed_in_suite);
    testcases += in_suite;
    failures += failed_in_suite;
  }
  EXPECT_EQ(suites, (std::vector<std::string>{"binary", "text", "http"}));
  EXPECT_EQ(testcases, 5);
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(skipped, 1);
  // The failure's message comes back as it was, but for the bytes XML cannot
  // hold, which are written \xNN.
  EXPECT_EQ(root.get_child("testsuite.testcase.failure.<xmlattr>.message").data(),
            "line 5 (expect-bin): nothing more within 20 ms");
  EXPECT_NE(out.str().find("expected &quot;&lt;END&gt;&quot; &amp; got &apos;x\\x01\\xff&apos;"),
            std::string::npos)
      << out.str();
}

TEST(ConformJunit, AnEmptyRunIsStillADocument) {
  std::ostringstream out;
  write_junit(RunSummary{}, "t", out);
  pt::ptree tree;
  ASSERT_NO_THROW(tree = parse(out.str())) << out.str();
  EXPECT_EQ(tree.get<int>("testsuites.<xmlattr>.tests"), 0);
}

}  // namespace
}  // namespace katsubushi::conform
