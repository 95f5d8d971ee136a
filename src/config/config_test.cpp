#include "config/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace katsubushi::config {
namespace {

using namespace std::chrono_literals;
using Args = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

EnvLookup lookup_in(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Config parse(const Args& args, const Env& env = {}) { return parse_config(args, lookup_in(env)); }

// The ConfigError message thrown for `args`, or "" when nothing was thrown.
std::string error_of(const Args& args, const Env& env = {}) {
  try {
    parse(args, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string validation_error_of(const Config& c) {
  try {
    validate_config(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct ValueFlag {
  std::string name;
  std::string value;
  std::function<void(const Config&)> check;
};

const std::vector<ValueFlag>& value_flags() {
  static const std::vector<ValueFlag> flags = {
      {"worker-id", "42", [](const Config& c) { EXPECT_EQ(c.worker_id, 42u); }},
      {"port", "7238", [](const Config& c) { EXPECT_EQ(c.port, 7238); }},
      {"sock", "run/k.sock", [](const Config& c) { EXPECT_EQ(c.sock, "run/k.sock"); }},
      {"idle-timeout", "10m", [](const Config& c) { EXPECT_EQ(c.idle_timeout, 10min); }},
      {"log-level", "debug", [](const Config& c) { EXPECT_EQ(c.log_level, "debug"); }},
      {"log-format", "json", [](const Config& c) { EXPECT_EQ(c.log_format, "json"); }},
      {"http-port", "8080", [](const Config& c) { EXPECT_EQ(c.http_port, 8080); }},
      {"redis", "redis://127.0.0.1:6379/0",
       [](const Config& c) { EXPECT_EQ(c.redis, "redis://127.0.0.1:6379/0"); }},
      {"min-worker-id", "10", [](const Config& c) { EXPECT_EQ(c.min_worker_id, 10u); }},
      {"max-worker-id", "20", [](const Config& c) { EXPECT_EQ(c.max_worker_id, 20u); }},
      {"threads", "3", [](const Config& c) { EXPECT_EQ(c.threads, 3u); }},
      {"max-connections", "100", [](const Config& c) { EXPECT_EQ(c.max_connections, 100u); }},
      {"max-line-bytes", "4096", [](const Config& c) { EXPECT_EQ(c.max_line_bytes, 4096u); }},
      {"shutdown-timeout", "1500ms",
       [](const Config& c) { EXPECT_EQ(c.shutdown_timeout, 1500ms); }},
      {"debug-port", "8081", [](const Config& c) { EXPECT_EQ(c.warnings.size(), 1u); }},
      {"grpc-port", "7720", [](const Config& c) { EXPECT_EQ(c.warnings.size(), 1u); }},
  };
  return flags;
}

TEST(ConfigTest, DefaultsMatchGoKatsubushi) {
  const Config c = parse({});
  EXPECT_EQ(c.worker_id, 0u);
  EXPECT_EQ(c.port, 11212);
  EXPECT_EQ(c.idle_timeout, 600s);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "text");
  EXPECT_EQ(c.http_port, 0);
  EXPECT_TRUE(c.redis.empty());
  EXPECT_EQ(c.min_worker_id, 1u);
  EXPECT_EQ(c.max_worker_id, 1023u);
  EXPECT_GE(c.threads, 1u);  // resolved to the number of cores
  EXPECT_EQ(c.max_connections, 4096u);
  EXPECT_EQ(c.max_line_bytes, 65536u);
  EXPECT_FALSE(c.show_help);
  EXPECT_FALSE(c.show_version);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigTest, EveryValueFlagInEveryGoSpelling) {
  for (const auto& f : value_flags()) {
    for (const std::string dashes : {"-", "--"}) {
      SCOPED_TRACE(dashes + f.name);
      f.check(parse({dashes + f.name + "=" + f.value}));
      f.check(parse({dashes + f.name, f.value}));
    }
  }
}

TEST(ConfigTest, BoolFlags) {
  for (const std::string dashes : {"-", "--"}) {
    EXPECT_TRUE(parse({dashes + "version"}).show_version);
    EXPECT_TRUE(parse({dashes + "help"}).show_help);
    EXPECT_TRUE(parse({dashes + "version=true"}).show_version);
    EXPECT_FALSE(parse({dashes + "version=false"}).show_version);
    EXPECT_TRUE(parse({dashes + "help=1"}).show_help);
    EXPECT_FALSE(parse({dashes + "help=F"}).show_help);
  }
  EXPECT_TRUE(parse({"-h"}).show_help);
  // As in Go, a bool flag never takes the next argument as its value.
  EXPECT_NE(error_of({"-version", "false"}), "");
  EXPECT_NE(error_of({"-version=maybe"}).find("-version"), std::string::npos);
}

TEST(ConfigTest, CompatibilityFlagsWarn) {
  for (const std::string dashes : {"-", "--"}) {
    const Config c = parse({dashes + "enable-pprof"});
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_NE(c.warnings[0].find("enable-pprof"), std::string::npos);
  }
  EXPECT_TRUE(parse({"-enable-pprof=false"}).warnings.empty());
  const Config c = parse({"-enable-stats", "-debug-port", "8080"});
  EXPECT_EQ(c.warnings.size(), 2u);
  EXPECT_TRUE(parse({"-grpc-port=0"}).warnings.empty());
}

TEST(ConfigTest, FlagsCombine) {
  const Config c = parse({"-worker-id=5", "--port", "0", "-log-level=warn", "--idle-timeout=0"});
  EXPECT_EQ(c.worker_id, 5u);
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.idle_timeout, 0s);
  // The last occurrence of a flag wins.
  EXPECT_EQ(parse({"-worker-id=5", "-worker-id=6"}).worker_id, 6u);
  // "--" ends the flags.
  EXPECT_EQ(parse({"-worker-id=5", "--"}).worker_id, 5u);
}

TEST(ConfigTest, WorkerIdFromEnvironment) {
  EXPECT_EQ(parse({}, {{"WORKER_ID", "12"}}).worker_id, 12u);
  EXPECT_EQ(parse({}, {{"worker_id", "13"}}).worker_id, 13u);
  // Upper case is looked up first.
  EXPECT_EQ(parse({}, {{"WORKER_ID", "12"}, {"worker_id", "13"}}).worker_id, 12u);
  // An empty variable counts as unset.
  EXPECT_EQ(parse({}, {{"WORKER_ID", ""}, {"worker_id", "13"}}).worker_id, 13u);
}

TEST(ConfigTest, OtherFlagsFromEnvironment) {
  const Config c = parse({}, {{"IDLE_TIMEOUT", "30s"},
                              {"log_level", "error"},
                              {"MAX_CONNECTIONS", "10"},
                              {"ENABLE_PPROF", "true"}});
  EXPECT_EQ(c.idle_timeout, 30s);
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.max_connections, 10u);
  EXPECT_EQ(c.warnings.size(), 1u);
  // -help and -version come only from the command line.
  EXPECT_FALSE(parse({}, {{"HELP", "true"}, {"VERSION", "true"}}).show_help);
}

TEST(ConfigTest, FlagOverridesEnvironment) {
  EXPECT_EQ(parse({"-worker-id", "7"}, {{"WORKER_ID", "5"}}).worker_id, 7u);
  EXPECT_EQ(parse({"--worker-id=8"}, {{"worker_id", "5"}}).worker_id, 8u);
  EXPECT_EQ(parse({"-port=1"}, {{"PORT", "2"}}).port, 1);
}

TEST(ConfigTest, BadEnvironmentValueNamesFlagAndVariable) {
  const std::string msg = error_of({}, {{"WORKER_ID", "abc"}});
  EXPECT_NE(msg.find("-worker-id"), std::string::npos) << msg;
  EXPECT_NE(msg.find("WORKER_ID"), std::string::npos) << msg;
}

TEST(ConfigTest, CommandLineMendsABadEnvironmentValue) {
  EXPECT_EQ(parse({"-worker-id=4"}, {{"WORKER_ID", "abc"}}).worker_id, 4u);
  EXPECT_THROW(parse({"-port=1"}, {{"WORKER_ID", "abc"}}), ConfigError);
}

TEST(ConfigTest, BadValuesNameTheFlag) {
  const std::vector<Args> bad = {
      {"-worker-id=abc"},      {"-worker-id=-1"},      {"-worker-id=1024"},
      {"-worker-id", "1x"},    {"-worker-id="},        {"-port=65536"},
      {"-port=http"},          {"-idle-timeout=10x"},  {"-idle-timeout=-1s"},
      {"-log-level=verbose"},  {"-log-format=xml"},    {"-http-port=-5"},
      {"-min-worker-id=2000"}, {"-max-worker-id=1024"}, {"-threads=0"},
      {"-max-connections=0"},  {"-max-line-bytes=10"}, {"-shutdown-timeout=soon"},
      {"-debug-port=x"},       {"-grpc-port=99999"},   {"-enable-pprof=yes"},
  };
  for (const auto& args : bad) {
    const std::string flag = args[0].substr(0, args[0].find('='));
    const std::string msg = error_of(args);
    EXPECT_NE(msg.find(flag), std::string::npos) << args[0] << " -> \"" << msg << '"';
  }
}

TEST(ConfigTest, WorkerIdOutOfRange) {
  const std::string msg = error_of({"-worker-id=1024"});
  EXPECT_NE(msg.find("-worker-id"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1023"), std::string::npos) << msg;
  EXPECT_EQ(parse({"-worker-id=1023"}).worker_id, 1023u);
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

TEST(ConfigTest, PositionalArgumentsAreRejected) {
  EXPECT_NE(error_of({"extra"}).find("extra"), std::string::npos);
  EXPECT_NE(error_of({"-worker-id=1", "extra"}).find("extra"), std::string::npos);
  EXPECT_NE(error_of({"--", "extra"}).find("extra"), std::string::npos);
  EXPECT_NE(error_of({"-"}), "");
}

TEST(ConfigTest, BadFlagSyntaxIsRejected) {
  EXPECT_NE(error_of({"---worker-id=1"}), "");
  EXPECT_NE(error_of({"-=1"}), "");
  EXPECT_NE(error_of({"--=1"}), "");
}

Config valid_config() {
  Config c = parse({"-worker-id=1"});
  EXPECT_EQ(validation_error_of(c), "");
  return c;
}

TEST(ConfigTest, ValidateRequiresAWorkerId) {
  const std::string msg = validation_error_of(parse({}));
  EXPECT_NE(msg.find("-worker-id"), std::string::npos) << msg;
  EXPECT_EQ(validation_error_of(parse({"-worker-id=1023"})), "");
}

TEST(ConfigTest, ValidateRejectsFeaturesNotYetSupported) {
  Config c = valid_config();
  c.redis = "redis://127.0.0.1:6379/0";
  std::string msg = validation_error_of(c);
  EXPECT_NE(msg.find("-redis"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not yet supported"), std::string::npos) << msg;

  c = valid_config();
  c.http_port = 8080;
  msg = validation_error_of(c);
  EXPECT_NE(msg.find("-http-port"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not yet supported"), std::string::npos) << msg;
}

TEST(ConfigTest, ValidateAcceptsEnablePprofWithAWarning) {
  const Config c = parse({"-worker-id=1", "-enable-pprof"});
  EXPECT_EQ(validation_error_of(c), "");
  EXPECT_EQ(c.warnings.size(), 1u);
}

TEST(ConfigTest, ValidateChecksWorkerIdRangeFlags) {
  Config c = valid_config();
  c.min_worker_id = 0;
  EXPECT_NE(validation_error_of(c).find("-min-worker-id"), std::string::npos);
  c = valid_config();
  c.min_worker_id = 20;
  c.max_worker_id = 10;
  EXPECT_NE(validation_error_of(c).find("-max-worker-id"), std::string::npos);
}

TEST(ConfigTest, UsageListsEveryFlag) {
  const std::string text = usage("katsubushi");
  EXPECT_NE(text.find("Usage: katsubushi"), std::string::npos);
  for (const auto& f : value_flags()) {
    EXPECT_NE(text.find("-" + f.name + " value"), std::string::npos) << f.name;
  }
  for (const char* name : {"-version", "-help", "-enable-pprof", "-enable-stats"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

TEST(ConfigTest, ProcessEnvironmentReadsGetenv) {
  const std::string name = "KATSUBUSHI_CONFIG_TEST_VARIABLE";
  const EnvLookup env = process_environment();
  ::unsetenv(name.c_str());
  EXPECT_EQ(env(name), std::nullopt);
  ASSERT_EQ(::setenv(name.c_str(), "17", 1), 0);
  EXPECT_EQ(env(name), "17");
  ::unsetenv(name.c_str());
}

}  // namespace
}  // namespace katsubushi::config
