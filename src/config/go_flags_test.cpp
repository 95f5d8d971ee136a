#include "config/go_flags.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/config_test_support.hpp"

namespace katsubushi::config {
namespace {

using namespace config_test;

TEST(GoFlagsTest, WalkReadsValuesByKind) {
  const Args args{"-b", "--v", "x", "-u", "-v=1", "-v"};
  std::vector<std::string> seen;
  const std::size_t end = walk_go_flags(
      args,
      [](std::string_view name) {
        return name == "b" ? FlagKind::boolean : name == "v" ? FlagKind::valued : FlagKind::unknown;
      },
      [&](const GoFlag& f) {
        seen.push_back(std::string(f.name) + "=" + std::string(f.value.value_or("(none)")));
      });
  EXPECT_EQ(end, args.size());
  EXPECT_EQ(seen, (std::vector<std::string>{"b=true", "v=x", "u=(none)", "v=1", "v=(none)"}));
}

TEST(ConfigTest, JsonLogsRequestedOnTheCommandLineOrInTheEnvironment) {
  auto json = [](const Args& args, const Env& env = {}) {
    return json_logs_requested(args, lookup_in(env));
  };
  EXPECT_FALSE(json({}));
  EXPECT_TRUE(json({"-log-format=json"}));
  EXPECT_TRUE(json({"--log-format", "json"}));
  EXPECT_TRUE(json({"-worker-id=abc", "-log-format=json"}));  // the error comes first
  EXPECT_TRUE(json({"-log-format=json", "-no-such-flag"}));
  EXPECT_TRUE(json({"-version", "-log-format=json"}));
  EXPECT_FALSE(json({"-log-format=json", "-log-format=text"}));
  EXPECT_FALSE(json({"-sock", "-log-format=json"}));  // the value of -sock
  EXPECT_FALSE(json({"extra", "-log-format=json"}));  // after the flags
  EXPECT_FALSE(json({"---x", "-log-format=json"}));   // bad syntax ends the flags
  EXPECT_TRUE(json({}, {{"LOG_FORMAT", "json"}}));
  EXPECT_TRUE(json({}, {{"log_format", "json"}}));
  EXPECT_FALSE(json({}, {{"LOG_FORMAT", "text"}, {"log_format", "json"}}));
  EXPECT_FALSE(json({"-log-format=text"}, {{"LOG_FORMAT", "json"}}));
  EXPECT_TRUE(json({"-log-format=json"}, {{"LOG_FORMAT", "text"}}));
  EXPECT_FALSE(json({"-log-format"}));
}

TEST(ConfigTest, MissingValueIsAnError) {
  const std::string msg = error_of({"-worker-id"});
  EXPECT_NE(msg.find("-worker-id"), std::string::npos) << msg;
  EXPECT_NE(msg.find("argument"), std::string::npos) << msg;
}

TEST(ConfigTest, UnknownFlagIsRejected) {
  EXPECT_NE(error_of({"-no-such-flag"}).find("-no-such-flag"), std::string::npos);
  EXPECT_NE(error_of({"--no-such-flag=1"}).find("-no-such-flag"), std::string::npos);
  EXPECT_NE(error_of({"-Worker-Id=1"}), "");  // flag names are case-sensitive, as in Go
}

TEST(ConfigTest, FlagsEndAtTheFirstNonFlagArgumentAsInGo) {
  // Go's flag.Parse stops there and go-katsubushi never looks at the rest.
  Config c = parse({"-worker-id=5", "extra", "-port=1"});
  EXPECT_EQ(c.worker_id, 5u);
  EXPECT_EQ(c.port, Config{}.port);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("\"extra\""), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[0].find("\"-port=1\""), std::string::npos) << c.warnings[0];
  // A flag among the ignored arguments earns a hint why it was not read.
  EXPECT_NE(c.warnings[0].find("not read"), std::string::npos) << c.warnings[0];

  // A lone "-" is a non-flag argument.
  c = parse({"-", "-worker-id=3"});
  EXPECT_EQ(c.worker_id, 0u);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("\"-\" \"-worker-id=3\""), std::string::npos) << c.warnings[0];

  // "--" ends the flags and is not itself reported.
  c = parse({"-worker-id=2", "--", "-worker-id=3", "x"});
  EXPECT_EQ(c.worker_id, 2u);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].find("\"--\""), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[0].find("\"-worker-id=3\" \"x\""), std::string::npos) << c.warnings[0];

  // Nothing left over, nothing to warn about.
  EXPECT_TRUE(parse({"-worker-id=2", "--"}).warnings.empty());
  EXPECT_TRUE(parse({"--"}).warnings.empty());

  // An empty argument is a non-flag too.
  c = parse({"", "-worker-id=3"});
  EXPECT_EQ(c.worker_id, 0u);
  EXPECT_EQ(c.warnings.size(), 1u);

  // A bad flag after the end of the flags is never looked at.
  EXPECT_EQ(parse({"x", "-no-such-flag", "-worker-id=abc"}).warnings.size(), 1u);
}

TEST(ConfigTest, ManyIgnoredArgumentsAreCounted) {
  Args args{"-worker-id=1"};
  for (int i = 0; i < 100; ++i) args.push_back("arg" + std::to_string(i));
  const Config c = parse(args);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("\"arg0\""), std::string::npos) << c.warnings[0];
  EXPECT_EQ(c.warnings[0].find("\"arg99\""), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[0].find("92 more"), std::string::npos) << c.warnings[0];
}

TEST(ConfigTest, AValueMayStartWithADash) {
  // As in Go, a flag that needs a value takes the next argument, whatever it is.
  EXPECT_EQ(parse({"-sock", "-odd-name"}).sock, "-odd-name");
  EXPECT_EQ(parse({"-sock", "--"}).sock, "--");
}

TEST(ConfigTest, BadFlagSyntaxIsRejected) {
  EXPECT_NE(error_of({"---worker-id=1"}), "");
  EXPECT_NE(error_of({"-=1"}), "");
  EXPECT_NE(error_of({"--=1"}), "");
}

}  // namespace
}  // namespace katsubushi::config
