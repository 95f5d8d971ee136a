#include "config/go_int.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/config_test_support.hpp"

namespace katsubushi::config {
namespace {

using namespace config_test;

TEST(GoIntTest, ParseGoUintReadsStrconvBaseZero) {
  EXPECT_EQ(parse_go_uint("010").value, 8u);
  EXPECT_EQ(parse_go_uint("0x_1f").value, 31u);
  EXPECT_EQ(parse_go_uint("18446744073709551615").value, UINT64_MAX);
  EXPECT_EQ(parse_go_uint("18446744073709551616").error, GoIntError::range);
  EXPECT_EQ(parse_go_uint("1__0").error, GoIntError::syntax);
  EXPECT_EQ(parse_go_uint("-1").error, GoIntError::syntax);  // the caller reads the sign
  EXPECT_EQ(parse_go_uint("").error, GoIntError::syntax);
}

// Go's flag package reads integers with strconv.ParseInt/ParseUint, base 0.
TEST(ConfigTest, IntegersAreReadAsGoReadsThem) {
  const std::vector<std::pair<std::string, std::uint32_t>> worker_ids = {
      {"8", 8},        {"010", 8},       {"0x10", 16},    {"0X1f", 31},  {"0o17", 15},
      {"0O17", 15},    {"0b101", 5},     {"0B101", 5},    {"0", 0},      {"00", 0},
      {"0x3FF", 1023}, {"1_0", 10},      {"0_10", 8},     {"0x_1f", 31}, {"0b_1_0_1", 5},
      {"0o_17", 15},   {"0001023", 531}, {"1_023", 1023},
  };
  for (const auto& [text, want] : worker_ids) {
    EXPECT_EQ(parse({"-worker-id=" + text}).worker_id, want) << text;
    EXPECT_EQ(parse({"-worker-id", text}).worker_id, want) << text;
  }
  // Signed (flag.Int) flags take a sign.
  EXPECT_EQ(parse({"-port=+0x1F90"}).port, 8080);
  EXPECT_EQ(parse({"-port=-0"}).port, 0);
  EXPECT_EQ(parse({"-max-connections=1_000"}).max_connections, 1000u);
  EXPECT_EQ(parse({"-max-line-bytes=0x10000"}).max_line_bytes, 65536u);
  EXPECT_EQ(parse({"-threads=+2"}).threads, 2u);
}

TEST(ConfigTest, MalformedIntegersAreSyntaxErrors) {
  for (const std::string bad :
       {"",    "08",   "09",  "0x",   "0b",    "0o",       "0b2", "0o8", "0x1g", "_1",
        "1_",  "1__0", "0x_", "0_",   "1 ",    " 1",       "1e3", "1.0", "--1",  "+-1",
        "-+1", "+",    "-",   "0x-1", "12abc", "\xd9\xa1", "+1",  "-0"}) {
    // (a sign is a syntax error for a uint flag, as with Go's ParseUint)
    const std::string msg = error_of({"-worker-id=" + bad});
    EXPECT_NE(msg.find("invalid value \"" + bad + "\" for flag -worker-id"), std::string::npos)
        << '"' << bad << "\" -> " << msg;
    EXPECT_NE(msg.find("want an unsigned integer in 0..1023"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("out of range"), std::string::npos) << msg;
  }
  for (const std::string bad : {"", "+", "--1", "0x", "1_", "8_0_"}) {
    const std::string msg = error_of({"-port=" + bad});
    EXPECT_NE(msg.find("want an integer in 0..65535"), std::string::npos) << msg;
  }
}

TEST(ConfigTest, IntegersOutOfRangeSaySo) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A negative worker id is a number, just not a worker id.
      {"-worker-id=-1", "-worker-id"},
      {"-worker-id=-0x10", "-worker-id"},
      {"-worker-id=0x400", "-worker-id"},
      {"-worker-id=0b10000000000", "-worker-id"},
      {"-worker-id=99999999999999999999999", "-worker-id"},
      {"-port=-1", "-port"},
      {"-port=0x10000", "-port"},
      {"-port=-99999999999999999999999", "-port"},
      {"-threads=0", "-threads"},
      {"-max-line-bytes=0777", "-max-line-bytes"},  // 511
  };
  for (const auto& [arg, flag] : cases) {
    const std::string msg = error_of({arg});
    EXPECT_NE(msg.find("for flag " + flag + ": out of range; want an"), std::string::npos)
        << arg << " -> " << msg;
  }
  EXPECT_NE(error_of({"-worker-id=-1"}).find("0..1023"), std::string::npos);
}

TEST(ConfigTest, EnvironmentIntegersAreReadAsGoReadsThem) {
  // go-katsubushi hands environment values to the same flag setters.
  EXPECT_EQ(parse({}, {{"WORKER_ID", "010"}}).worker_id, 8u);
  EXPECT_EQ(parse({}, {{"worker_id", "0x10"}}).worker_id, 16u);
  EXPECT_EQ(parse({}, {{"PORT", "0b1_0000"}}).port, 16);
  EXPECT_EQ(parse({}, {{"MAX_CONNECTIONS", "1_000"}}).max_connections, 1000u);
  const std::string msg = error_of({}, {{"WORKER_ID", "-1"}});
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  EXPECT_NE(msg.find("WORKER_ID"), std::string::npos) << msg;
}

}  // namespace
}  // namespace katsubushi::config
