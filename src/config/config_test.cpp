#include "config/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "config/config_test_support.hpp"
#include "config/duration.hpp"

namespace katsubushi::config {
namespace {

using namespace std::chrono_literals;
using namespace config_test;

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
      {"worker-id-count", "4", [](const Config& c) { EXPECT_EQ(c.worker_id_count, 4u); }},
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
      {"lease-ttl", "30s", [](const Config& c) { EXPECT_EQ(c.lease_ttl, 30s); }},
      {"state-file", "var/k.state", [](const Config& c) { EXPECT_EQ(c.state_file, "var/k.state"); }},
      {"max-clock-wait", "1m", [](const Config& c) { EXPECT_EQ(c.max_clock_wait, 1min); }},
      {"threads", "3", [](const Config& c) { EXPECT_EQ(c.threads, 3u); }},
      {"max-connections", "100", [](const Config& c) { EXPECT_EQ(c.max_connections, 100u); }},
      {"max-line-bytes", "4096", [](const Config& c) { EXPECT_EQ(c.max_line_bytes, 4096u); }},
      {"shutdown-timeout", "1500ms",
       [](const Config& c) { EXPECT_EQ(c.shutdown_timeout, 1500ms); }},
      {"debug-port", "8081", [](const Config& c) { EXPECT_EQ(c.warnings.size(), 1u); }},
      {"grpc-port", "7720", [](const Config& c) {
         EXPECT_EQ(c.grpc_port, 7720);
         EXPECT_TRUE(c.warnings.empty());
       }},
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
  // As in Go, a bool flag never takes the next argument as its value: "false"
  // is the first non-flag argument, so it and the rest are ignored.
  const Config c = parse({"-version", "false"});
  EXPECT_TRUE(c.show_version);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("\"false\""), std::string::npos) << c.warnings[0];
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
      {"-worker-id=abc"},      {"-worker-id=-1"},       {"-worker-id=1024"},
      {"-worker-id", "1x"},    {"-worker-id="},         {"-port=65536"},
      {"-port=http"},          {"-idle-timeout=10x"},   {"-idle-timeout=-1s"},
      {"-log-level=verbose"},  {"-log-format=xml"},     {"-http-port=-5"},
      {"-min-worker-id=2000"}, {"-max-worker-id=1024"}, {"-threads=0"},
      {"-max-connections=0"},  {"-max-line-bytes=10"},  {"-shutdown-timeout=soon"},
      {"-debug-port=x"},       {"-grpc-port=99999"},    {"-enable-pprof=yes"},
      {"-lease-ttl=5x"},       {"-max-clock-wait=x"},   {"-lease-ttl=-1s"},
  };
  for (const auto& args : bad) {
    const std::string flag = args[0].substr(0, args[0].find('='));
    const std::string msg = error_of(args);
    EXPECT_NE(msg.find(flag), std::string::npos) << args[0] << " -> \"" << msg << '"';
  }
}

TEST(ConfigTest, RedisStandsInForAMissingWorkerIdOnly) {
  Config c = parse({"-redis=redis://127.0.0.1:6379"});
  EXPECT_EQ(validation_error_of(c), "");
  EXPECT_TRUE(c.warnings.empty());
  // As go-katsubushi: a worker id given wins, and -redis is not used.
  c = parse({"-worker-id=3", "-redis=redis://127.0.0.1:6379"});
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("-redis is ignored"), std::string::npos) << c.warnings[0];
  const std::string msg = validation_error_of(parse({"-port=0"}));
  EXPECT_NE(msg.find("-worker-id"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-redis"), std::string::npos) << msg;
}

TEST(ConfigTest, EtcdStandsInForAMissingWorkerIdAsRedisDoes) {
  Config c = parse({"-etcd=http://127.0.0.1:2379"});
  EXPECT_EQ(validation_error_of(c), "");
  EXPECT_EQ(c.etcd_prefix, "katsubushi/");
  c = parse({}, {{"ETCD", "http://a:2379"}, {"ETCD_PREFIX", "ids/"}, {"etcd_user", "kb"}});
  EXPECT_EQ(c.etcd, "http://a:2379");
  EXPECT_EQ(c.etcd_prefix, "ids/");
  EXPECT_EQ(c.etcd_user, "kb");
  c = parse({"-worker-id=3", "-etcd=http://127.0.0.1:2379"});
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("-etcd is ignored"), std::string::npos) << c.warnings[0];
  EXPECT_NE(validation_error_of(parse({})).find("-etcd"), std::string::npos);
}

TEST(ConfigTest, EtcdFlagsThatCannotWorkTogether) {
  const auto error = [](const Args& args) { return validation_error_of(parse(args)); };
  EXPECT_NE(error({"-etcd=http://a", "-redis=redis://b"}).find("flags -etcd and -redis"),
            std::string::npos);
  // Even with a worker id: one of the two is surely a mistake.
  EXPECT_NE(error({"-worker-id=1", "-etcd=http://a", "-redis=redis://b"}).find("-etcd"),
            std::string::npos);
  EXPECT_NE(error({"-etcd=http://a", "-etcd-prefix="}).find("-etcd-prefix"), std::string::npos);
  EXPECT_NE(error({"-etcd=https://a", "-etcd-cert=c.pem"}).find("-etcd-key"), std::string::npos);
  EXPECT_NE(error({"-etcd=https://a", "-etcd-key=k.pem"}).find("-etcd-cert"), std::string::npos);
  EXPECT_NE(error({"-etcd=http://a", "-etcd-password-file=p"}).find("needs -etcd-user"),
            std::string::npos);
  EXPECT_NE(error({"-etcd=http://a", "-etcd-user=u:p", "-etcd-password-file=p"})
                .find("given twice"),
            std::string::npos);
  EXPECT_NE(error({"-etcd=http://a", "-redis-wait-replicas=1"}).find("-redis-wait-replicas"),
            std::string::npos);
  EXPECT_EQ(error({"-etcd=https://a", "-etcd-cert=c", "-etcd-key=k", "-etcd-user=u",
                   "-etcd-password-file=p"}),
            "");
}

TEST(ConfigTest, LeaseTtlHasAFloorAndStateFlagsDefault) {
  Config c = parse({"-redis=redis://h", "-lease-ttl=1s"});
  const std::string msg = validation_error_of(c);
  EXPECT_NE(msg.find("-lease-ttl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2s"), std::string::npos) << msg;
  c = parse({"-worker-id=1"});
  EXPECT_EQ(c.lease_ttl, 30s);
  EXPECT_EQ(c.max_clock_skew, 1s);
  EXPECT_EQ(c.redis_wait_replicas, 0);
  EXPECT_NE(validation_error_of(parse({"-redis=redis://h", "-max-clock-skew=0s"}))
                .find("-max-clock-skew"),
            std::string::npos);
  EXPECT_EQ(parse({"-redis=redis://h", "-redis-wait-replicas=2", "-max-clock-skew=250ms"})
                .redis_wait_replicas,
            2);
  EXPECT_EQ(c.max_clock_wait, 10s);
  EXPECT_TRUE(c.state_file.empty());
}

TEST(ConfigTest, WorkerIdOutOfRange) {
  const std::string msg = error_of({"-worker-id=1024"});
  EXPECT_NE(msg.find("-worker-id"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1023"), std::string::npos) << msg;
  EXPECT_EQ(parse({"-worker-id=1023"}).worker_id, 1023u);
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

TEST(ConfigTest, ValidateAcceptsAnHttpPortOfItsOwn) {
  EXPECT_EQ(validation_error_of(parse({"-worker-id=1", "-http-port=8080"})), "");
  EXPECT_EQ(validation_error_of(parse({"-worker-id=1", "-port=0", "-http-port=8080"})), "");
  // With -sock the main listener is the socket: -port's value is not bound.
  EXPECT_EQ(
      validation_error_of(parse({"-worker-id=1", "-sock=k.sock", "-http-port=11212"})), "");
}

TEST(ConfigTest, ValidateRefusesAnHttpPortEqualToThePort) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-worker-id=1", "-http-port=11212"},  // the default -port
           {"-worker-id=1", "-port=8080", "-http-port=8080"},
           {"-worker-id=1", "-port=8080", "-http-port=0x1f90"}}) {
    const std::string msg = validation_error_of(parse(args));
    EXPECT_NE(msg.find("-http-port"), std::string::npos) << msg;
    EXPECT_NE(msg.find("-port"), std::string::npos) << msg;
    EXPECT_NE(msg.find(args.size() == 2 ? "11212" : "8080"), std::string::npos) << msg;
  }
}

TEST(ConfigTest, ValidateRefusesAGrpcPortSharedWithAnotherListener) {
  EXPECT_EQ(validation_error_of(parse({"-worker-id=1", "-grpc-port=50051"})), "");
  EXPECT_EQ(
      validation_error_of(parse({"-worker-id=1", "-sock=k.sock", "-grpc-port=11212"})), "");
  const std::string with_port = validation_error_of(parse({"-worker-id=1", "-grpc-port=11212"}));
  EXPECT_NE(with_port.find("-grpc-port and -port"), std::string::npos) << with_port;
  const std::string with_http = validation_error_of(
      parse({"-worker-id=1", "-http-port=8080", "-grpc-port=8080"}));
  EXPECT_NE(with_http.find("-grpc-port and -http-port"), std::string::npos) << with_http;
}

TEST(ConfigTest, HelpNoLongerCallsHttpPortUnsupported) {
  for (const auto& f : flag_infos()) {
    if (f.name != "http-port") continue;
    EXPECT_EQ(f.help.find("not yet"), std::string::npos) << f.help;
    EXPECT_NE(f.help.find("/id"), std::string::npos) << f.help;
    return;
  }
  ADD_FAILURE() << "no -http-port flag";
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

TEST(ConfigTest, WorkerIdCountStaysWithinTheLayoutAndTheRange) {
  EXPECT_EQ(parse({}).worker_id_count, 1u);
  EXPECT_EQ(parse({}, {{"WORKER_ID_COUNT", "3"}}).worker_id_count, 3u);
  EXPECT_NE(error_of({"-worker-id-count=0"}).find("-worker-id-count"), std::string::npos);
  EXPECT_EQ(validation_error_of(parse({"-worker-id=1020", "-worker-id-count=4"})), "");
  const std::string past = validation_error_of(parse({"-worker-id=1021", "-worker-id-count=4"}));
  EXPECT_NE(past.find("1021..1024"), std::string::npos) << past;
  EXPECT_NE(past.find("1023"), std::string::npos) << past;
  const std::string over_max =
      validation_error_of(parse({"-worker-id=5", "-worker-id-count=4", "-max-worker-id=7"}));
  EXPECT_NE(over_max.find("-max-worker-id 7"), std::string::npos) << over_max;
  const std::string leases = validation_error_of(parse(
      {"-redis=redis://127.0.0.1:1", "-worker-id-count=4", "-min-worker-id=5", "-max-worker-id=7"}));
  EXPECT_NE(leases.find("-worker-id-count 4"), std::string::npos) << leases;
  EXPECT_EQ(validation_error_of(parse({"-redis=redis://127.0.0.1:1", "-worker-id-count=3",
                                       "-min-worker-id=5", "-max-worker-id=7"})),
            "");
}

TEST(ConfigTest, UsageListsEveryFlag) {
  const std::string text = usage("katsubushi");
  EXPECT_NE(text.find("Usage: katsubushi"), std::string::npos);
  for (const auto& f : value_flags()) {
    EXPECT_NE(text.find("\n  -" + f.name + " "), std::string::npos) << f.name;
  }
  for (const char* name : {"-version\n", "-help\n", "-enable-pprof\n", "-enable-stats\n"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

TEST(ConfigTest, UsageShowsGoTypesRangesAndDefaultsFromADefaultConfig) {
  const std::string text = usage("katsubushi");
  // Types as Go's -help names them: go-katsubushi declares the worker ids uint.
  EXPECT_NE(text.find("  -worker-id uint\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  -port int\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  -sock string\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  -idle-timeout duration\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(0..1023, default 0)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(512..16777216, default 65536)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(1..1024, default number of cores)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(default 600s)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(default info)\n"), std::string::npos) << text;
  // As in Go, an empty string and false are not shown as defaults.
  EXPECT_EQ(text.find("(default )"), std::string::npos) << text;
  EXPECT_EQ(text.find("(default false)"), std::string::npos) << text;

  const Config defaults;
  for (const auto& f : flag_infos()) {
    if (f.name == "idle-timeout") {
      EXPECT_EQ(f.default_text, format_duration(defaults.idle_timeout));
    } else if (f.name == "max-connections") {
      EXPECT_EQ(f.default_text, std::to_string(defaults.max_connections));
      EXPECT_EQ(f.range, "1..1000000");
    } else if (f.name == "sock") {
      EXPECT_EQ(f.default_text, "");
    } else if (f.name == "log-format") {
      EXPECT_EQ(f.default_text, defaults.log_format);
    }
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
