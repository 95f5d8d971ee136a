// The gRPC handlers without gRPC, on a simulated clock: what Fetch and
// FetchMulti answer, what they count, and what Stats.Get reads.
#include "grpc/handlers.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>

#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "service/id_service.hpp"

namespace katsubushi::grpcapi {
namespace {

constexpr std::int64_t kStart = id::kEpochUnixMs + 7'000'000;

struct Rig {
  id::ManualClock clock{kStart};
  id::IdGenerator generator{clock, 9};
  service::ProtocolCounters counters;
  service::IdService ids{generator, counters};
  std::array<std::uint64_t, kMaxFetchMulti> out{};

  FetchResult fetch(std::uint32_t n, const std::function<bool()>& cancelled = {}) {
    return fetch_ids(ids, clock, n, out, cancelled);
  }
};

TEST(GrpcHandlers, ZeroMeansOneAndTheLimitIsAThousand) {
  Rig rig;
  const FetchResult zero = rig.fetch(0);
  EXPECT_EQ(zero.outcome, Outcome::ok);
  EXPECT_EQ(zero.count, 1u);
  const FetchResult most = rig.fetch(kMaxFetchMulti);
  ASSERT_EQ(most.outcome, Outcome::ok);
  ASSERT_EQ(most.count, 1000u);
  for (std::size_t i = 1; i < most.count; ++i) EXPECT_LT(rig.out[i - 1], rig.out[i]) << i;
  EXPECT_EQ(rig.counters.cmd_get.load(), 1001u);
  EXPECT_EQ(rig.counters.get_hits.load(), 1001u);
}

TEST(GrpcHandlers, MoreThanAThousandIsInvalidAndIssuesNothing) {
  Rig rig;
  for (const std::uint32_t n : {1001u, 4096u, std::numeric_limits<std::uint32_t>::max()}) {
    const FetchResult r = rig.fetch(n);
    EXPECT_EQ(r.outcome, Outcome::invalid_argument);
    EXPECT_NE(r.message.find("1000"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(std::to_string(n)), std::string::npos) << r.message;
  }
  EXPECT_EQ(rig.generator.counters().ids_issued, 0u);
  EXPECT_EQ(rig.counters.cmd_get.load(), 0u);
}

TEST(GrpcHandlers, AUsedUpMillisecondIsWaitedOutOnTheClock) {
  Rig rig;
  // Five fetches of a thousand need two milliseconds: one wait, no error.
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    const FetchResult r = rig.fetch(1000);
    ASSERT_EQ(r.outcome, Outcome::ok);
    EXPECT_GT(rig.out[0], last);
    last = rig.out[r.count - 1];
  }
  EXPECT_EQ(rig.clock.sleeps(), 1);
  EXPECT_EQ(rig.clock.now_unix_ms(), kStart + 1);
  EXPECT_EQ(rig.counters.get_hits.load(), 5000u);
}

TEST(GrpcHandlers, ACancelledCallStopsBeforeItsWaitAndCountsMisses) {
  Rig rig;
  ASSERT_EQ(rig.fetch(1000).outcome, Outcome::ok);
  ASSERT_EQ(rig.fetch(1000).outcome, Outcome::ok);
  ASSERT_EQ(rig.fetch(1000).outcome, Outcome::ok);
  ASSERT_EQ(rig.fetch(1000).outcome, Outcome::ok);  // 96 left in this millisecond
  const FetchResult r = rig.fetch(1000, [] { return true; });
  EXPECT_EQ(r.outcome, Outcome::cancelled);
  EXPECT_EQ(rig.clock.sleeps(), 0);
  EXPECT_EQ(rig.generator.counters().ids_issued, 4000u);
  EXPECT_EQ(rig.counters.get_misses.load(), 1000u);
  EXPECT_EQ(rig.counters.cmd_get.load(),
            rig.counters.get_hits.load() + rig.counters.get_misses.load());
}

TEST(GrpcHandlers, ARefusingGeneratorIsUnavailableWithItsReason) {
  Rig rig;
  rig.generator.drop_lease();
  const FetchResult r = rig.fetch(10);
  EXPECT_EQ(r.outcome, Outcome::unavailable);
  EXPECT_EQ(r.message, "no valid worker id lease");
  EXPECT_EQ(rig.counters.get_misses.load(), 10u);
  EXPECT_EQ(rig.counters.get_hits.load(), 0u);
}

service::StatList nine() {
  return {{"pid", "4242"},          {"uptime", "17"},           {"time", "1795915094"},
          {"version", "0.1.0"},     {"curr_connections", "3"},  {"total_connections", "40"},
          {"cmd_get", "1002"},      {"get_hits", "1000"},       {"get_misses", "2"},
          {"worker_id", "9"}};
}

TEST(GrpcHandlers, StatsReadsGoKatsubushisNine) {
  const auto f = stats_figures(nine());
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (StatsFigures{.pid = 4242,
                              .uptime = 17,
                              .time = 1795915094,
                              .version = "0.1.0",
                              .curr_connections = 3,
                              .total_connections = 40,
                              .cmd_get = 1002,
                              .get_hits = 1000,
                              .get_misses = 2}));
}

TEST(GrpcHandlers, StatsSaturatesCountersBeyondInt64) {
  auto stats = nine();
  stats[6].second = "18446744073709551615";
  const auto f = stats_figures(stats);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->cmd_get, std::numeric_limits<std::int64_t>::max());
}

TEST(GrpcHandlers, StatsRefusesAListWithoutTheNine) {
  for (std::size_t i = 0; i < 9; ++i) {
    auto missing = nine();
    missing.erase(missing.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_FALSE(stats_figures(missing)) << "without " << nine()[i].first;
    if (i == 3) continue;  // version is text
    auto garbled = nine();
    garbled[i].second += "x";
    EXPECT_FALSE(stats_figures(garbled)) << "garbled " << nine()[i].first;
  }
  auto negative_pid = nine();
  negative_pid[0].second = "-1";
  EXPECT_FALSE(stats_figures(negative_pid));
}

}  // namespace
}  // namespace katsubushi::grpcapi
