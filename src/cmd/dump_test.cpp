// katsubushi-dump run as a child process: what it prints and how it fails.
#include <gtest/gtest.h>

#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

CommandResult dump(const std::vector<std::string>& args) {
  return run_command(dump_binary(), args);
}

// 2024-05-01T12:34:56.789Z is 1714566896789 ms Unix, 294496496789 ms after
// 2015-01-01; with worker 513 and sequence 4095 the id is
// (294496496789 << 22) | (513 << 12) | 4095.
constexpr const char* kKnownId = "1235207834470195199";
constexpr const char* kKnownLine =
    R"({"time":"2024-05-01T12:34:56.789Z","worker_id":513,"sequence":4095})"
    "\n";

TEST(Dump, PrintsTimeWorkerAndSequenceOfAKnownId) {
  const auto r = dump({kKnownId});
  ASSERT_TRUE(r.status);
  EXPECT_TRUE(r.status->clean()) << r.status->describe() << r.err;
  EXPECT_EQ(r.out, kKnownLine);
  EXPECT_EQ(r.err, "");
}

TEST(Dump, PrintsOneLinePerIdInOrder) {
  // 0 is the epoch itself; 4194304 is its next millisecond; 4097 is worker 1, sequence 1.
  const auto r = dump({"0", kKnownId, "4194304", "4097"});
  ASSERT_TRUE(r.status);
  EXPECT_TRUE(r.status->clean()) << r.status->describe() << r.err;
  EXPECT_EQ(r.out, std::string(R"({"time":"2015-01-01T00:00:00.000Z","worker_id":0,"sequence":0})"
                               "\n") +
                       kKnownLine +
                       R"({"time":"2015-01-01T00:00:00.001Z","worker_id":0,"sequence":0})"
                       "\n"
                       R"({"time":"2015-01-01T00:00:00.000Z","worker_id":1,"sequence":1})"
                       "\n");
}

TEST(Dump, ToIdGivesTheFirstIdOfTheMillisecond) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-to-id", "2015-01-01T00:00:00.001Z"},
        std::vector<std::string>{"--to-id", "2015-01-01T00:00:00.001Z"},
        std::vector<std::string>{"-to-id=2015-01-01T00:00:00.001Z"},
        // The same instant with an offset.
        std::vector<std::string>{"-to-id", "2015-01-01T09:00:00.001+09:00"},
        std::vector<std::string>{"-to-id", "2014-12-31T19:00:00.001-05:00"}}) {
    const auto r = dump(args);
    ASSERT_TRUE(r.status);
    EXPECT_TRUE(r.status->clean()) << args.back() << ": " << r.status->describe() << r.err;
    EXPECT_EQ(r.out, "4194304\n") << args.back();
  }
}

TEST(Dump, ToIdOfAKnownTimeRoundTrips) {
  const auto r = dump({"-to-id", "2024-05-01T21:34:56.789+09:00"});
  ASSERT_TRUE(r.status);
  ASSERT_TRUE(r.status->clean()) << r.err;
  // The known id with worker and sequence cleared.
  EXPECT_EQ(r.out, "1235207834468089856\n");
  const auto back = dump({r.out.substr(0, r.out.size() - 1)});
  ASSERT_TRUE(back.status);
  EXPECT_EQ(back.out, R"({"time":"2024-05-01T12:34:56.789Z","worker_id":0,"sequence":0})"
                      "\n");
}

TEST(Dump, InvalidIdsFailWithAMessage) {
  for (const char* bad : {"abc", "-1", "12x", "18446744073709551616", ""}) {
    const auto r = dump({"4194304", bad});
    ASSERT_TRUE(r.status) << bad;
    EXPECT_TRUE(r.status->exited) << bad;
    EXPECT_NE(r.status->code, 0) << '"' << bad << '"';
    EXPECT_NE(r.err.find(std::string("\"") + bad + "\""), std::string::npos)
        << '"' << bad << "\": " << r.err;
  }
}

TEST(Dump, ValuesWithBit63SetAreNotIds) {
  // 2^63 and 2^64 - 1: decimal uint64s, but no id has bit 63 set.
  for (const char* bad : {"9223372036854775808", "18446744073709551615", "13835058055282163712"}) {
    const auto r = dump({bad});
    ASSERT_TRUE(r.status) << bad;
    EXPECT_TRUE(r.status->exited) << bad;
    EXPECT_NE(r.status->code, 0) << bad;
    EXPECT_EQ(r.out, "") << bad;
    EXPECT_NE(r.err.find(std::string("\"") + bad + "\" is not an id: bit 63 is set"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("9223372036854775807"), std::string::npos) << r.err;
  }
  // Ids before it are still printed, as with any bad argument.
  const auto r = dump({"4097", "18446744073709551615"});
  ASSERT_TRUE(r.status);
  EXPECT_NE(r.status->code, 0);
  EXPECT_EQ(r.out, R"({"time":"2015-01-01T00:00:00.000Z","worker_id":1,"sequence":1})"
                   "\n");
}

TEST(Dump, TheLargestIdIsTheLastMillisecondOfTheRange) {
  const auto r = dump({"9223372036854775807"});
  ASSERT_TRUE(r.status);
  EXPECT_TRUE(r.status->clean()) << r.status->describe() << r.err;
  EXPECT_EQ(r.out, R"({"time":"2084-09-06T15:47:35.551Z","worker_id":1023,"sequence":4095})"
                   "\n");
}

TEST(Dump, InvalidTimesFailWithAMessage) {
  for (const char* bad :
       {"yesterday", "2015-13-01T00:00:00Z", "2015-01-01", "2014-12-31T23:59:59Z"}) {
    const auto r = dump({"-to-id", bad});
    ASSERT_TRUE(r.status) << bad;
    EXPECT_TRUE(r.status->exited) << bad;
    EXPECT_NE(r.status->code, 0) << bad;
    EXPECT_EQ(r.out, "") << bad;
    EXPECT_NE(r.err.find(bad), std::string::npos) << bad << ": " << r.err;
  }
}

TEST(Dump, HelpExitsZeroAndNoArgumentsFail) {
  const auto help = dump({"-help"});
  ASSERT_TRUE(help.status);
  EXPECT_TRUE(help.status->clean()) << help.status->describe();
  EXPECT_NE(help.out.find("Usage"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("-to-id"), std::string::npos) << help.out;

  const auto none = dump({});
  ASSERT_TRUE(none.status);
  EXPECT_TRUE(none.status->exited);
  EXPECT_NE(none.status->code, 0);
  EXPECT_NE(none.err.find("Usage"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace katsubushi::testing
