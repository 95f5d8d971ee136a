#include "bench/options.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace katsubushi::bench {
namespace {

using namespace std::chrono_literals;

OptionsResult parse(const std::vector<std::string>& args) { return parse_options(args); }

TEST(BenchOptionsTest, DefaultsNeedOnlyAPort) {
  const auto r = parse({"-port", "11212"});
  ASSERT_EQ(r.error, "");
  const BenchOptions& o = r.options;
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 11212);
  EXPECT_EQ(o.conns, 1U);
  EXPECT_EQ(o.depth, 1U);
  EXPECT_EQ(o.keys, 1U);
  EXPECT_EQ(o.key_prefix, "k");
  EXPECT_EQ(o.duration, 5s);
  EXPECT_EQ(o.warmup, 1s);
  EXPECT_EQ(o.requests, 0U);
  EXPECT_FALSE(o.check);
  EXPECT_EQ(o.pid, 0);
  EXPECT_EQ(o.proto, "text");
  EXPECT_TRUE(o.runs_load());
}

TEST(BenchOptionsTest, GoFlagForms) {
  const auto r = parse({"-port=1", "--conns", "32", "-depth=64", "-keys", "100", "-key-prefix=id",
                        "-duration", "2s", "-warmup=500ms", "-check", "-json=true",
                        "--allow-errors", "-pid", "4242", "-host", "::1"});
  ASSERT_EQ(r.error, "");
  const BenchOptions& o = r.options;
  EXPECT_EQ(o.port, 1);
  EXPECT_EQ(o.conns, 32U);
  EXPECT_EQ(o.depth, 64U);
  EXPECT_EQ(o.keys, 100U);
  EXPECT_EQ(o.key_prefix, "id");
  EXPECT_EQ(o.duration, 2s);
  EXPECT_EQ(o.warmup, 500ms);
  EXPECT_TRUE(o.check);
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.allow_errors);
  EXPECT_EQ(o.pid, 4242);
  EXPECT_EQ(o.host, "::1");
}

TEST(BenchOptionsTest, ABoolFlagCanBeTurnedOff) {
  const auto r = parse({"-port", "1", "-check", "-check=false"});
  ASSERT_EQ(r.error, "");
  EXPECT_FALSE(r.options.check);
}

TEST(BenchOptionsTest, ErrorsNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "flag -port is required"},
      {{"-port", "0"}, "invalid value \"0\" for flag -port: want 1..65535"},
      {{"-port", "65536"}, "invalid value \"65536\" for flag -port: want 1..65535"},
      {{"-port", "1", "-conns", "-1"}, "invalid value \"-1\" for flag -conns: want 1..100000"},
      {{"-port", "1", "-depth", "0"}, "invalid value \"0\" for flag -depth: want 1..65536"},
      {{"-port", "1", "-duration", "5"}, ""},  // plain seconds, as the daemon reads them
      {{"-port", "1", "-duration", "5x"},
       "invalid value \"5x\" for flag -duration: want a duration such as 5s or 500ms"},
      {{"-port", "1", "-duration", "0s"}, "flag -duration must be more than 0"},
      {{"-port", "1", "-check=maybe"}, "invalid boolean value \"maybe\" for flag -check"},
      {{"-port", "1", "-nope"}, "flag provided but not defined: -nope"},
      {{"-port"}, "flag needs an argument: -port"},
      {{"-port", "1", "---x"}, "bad flag syntax: ---x"},
      {{"-port", "1", "extra"}, "unexpected argument \"extra\" (flags only)"},
      {{"-port", "1", "-key-prefix", "a b"},
       "flag -key-prefix: a key holds no blank or control character"},
      {{"-port", "1", "-key-prefix", std::string(250, 'k')},
       "flag -key-prefix: keys would be longer than 250 bytes"},
      {{"-port", "1", "-requests", "10", "-duration", "1s"},
       "-requests runs exactly N requests: it takes no -duration or -warmup"},
      {{"-port", "1", "-proto", "udp"},
       "invalid value \"udp\" for flag -proto: want text, binary, http or grpc"},
      {{"-port", "1", "-proto", "grpc", "-keys", "1001"},
       "-proto grpc: -keys is n of FetchMulti, at most 1000"},
      {{"-port", "1", "-proto", "grpc", "-idle-conns", "5"},
       "-proto grpc: -preload and -idle-conns speak the text protocol"},
      {{"-port", "1", "-proto", "http", "-keys", "1001"},
       "-proto http: -keys is n of /ids, at most 1000"},
      {{"-port", "1", "-proto", "http", "-preload", "5"},
       "-proto http: -preload and -idle-conns speak the text protocol"},
  };
  for (const auto& [args, error] : cases) {
    EXPECT_EQ(parse(args).error, error) << (args.empty() ? "" : args.back());
  }
}

TEST(BenchOptionsTest, EveryProtocolIsTaken) {
  for (const char* proto : {"text", "binary", "http", "grpc"}) {
    const auto r = parse({"-port", "1", "-proto", proto, "-keys", "1000"});
    EXPECT_EQ(r.error, "") << proto;
    EXPECT_EQ(r.options.proto, proto);
  }
  EXPECT_EQ(parse({"-port", "1", "-proto", "binary", "-preload", "5"}).error, "");
}

TEST(BenchOptionsTest, PreloadOrIdleConnsAloneRunNoLoad) {
  EXPECT_FALSE(parse({"-port", "1", "-preload", "100"}).options.runs_load());
  EXPECT_FALSE(parse({"-port", "1", "-idle-conns", "10"}).options.runs_load());
  EXPECT_TRUE(parse({"-port", "1", "-preload", "100", "-duration", "1s"}).options.runs_load());
  EXPECT_TRUE(parse({"-port", "1", "-preload", "100", "-requests", "5"}).options.runs_load());
}

TEST(BenchOptionsTest, HelpNeedsNoPort) {
  const auto r = parse({"-help"});
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.options.help);
  for (const char* flag : {"-host", "-port", "-conns", "-depth", "-keys", "-key-prefix",
                           "-duration", "-warmup", "-requests", "-check", "-pid", "-preload",
                           "-idle-conns", "-proto", "-json", "-allow-errors"}) {
    EXPECT_NE(usage().find(std::string("  ") + flag + "\n"), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace katsubushi::bench
